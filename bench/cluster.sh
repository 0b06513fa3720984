#!/usr/bin/env bash
# Many replicas (issue 12, SPEC §10): in one run, side by side, on one throwaway PostgreSQL 15
# cluster and a 3-node NATS JetStream cluster (nats-server, loopback):
#   1. commit -> /admin/stream frame at RATE placements/s (about 2 events each): on a single node
#      without NATS, then on a standby replica, whose events cross the CDC leader and JetStream;
#   2. failover: KILLS times, kill -9 the CDC leader under a light load and time its death to
#      the first event a new leader appends to the stream (flashsale_event_stream_appended_total
#      polled every 20 ms on the others); a new replica replaces each dead one;
#   3. hot item: flashsale-loadgen (CONNECTIONS connections, HOT_SECONDS) against one node, then
#      against HAProxy in front of 3 replicas.
# Results in build/bench-results/cluster-<time>.txt and on stdout. See bench/README.md.
#
# usage: bench/cluster.sh [--duration S] [--rate R] [--kills N] [--hot-seconds S]
#                         [--connections N] [--stream-replicas 1|3] [--build] [--keep]
# Every flag has an environment variable of the same name in upper case.
set -Eeuo pipefail

BENCH_NAME=cluster
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-20}          # seconds of paced load per latency run
RATE=${RATE:-2500}                # placements/s (pgbench -R): about 5,000 events/s
CLIENTS=${CLIENTS:-40}            # pgbench clients
ITEMS=${ITEMS:-200}
KILLS=${KILLS:-20}
HOT_SECONDS=${HOT_SECONDS:-10}
CONNECTIONS=${CONNECTIONS:-500}
STREAM_REPLICAS=${STREAM_REPLICAS:-3}  # the JetStream stream's replicas (R1 or R3)
IDLE=${IDLE:-3}
CATCHUP_TIMEOUT=${CATCHUP_TIMEOUT:-60}
FORCE_BUILD=${FORCE_BUILD:-0}
KEEP=${KEEP:-0}

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) need_value "$@"; DURATION=$2; shift 2 ;;
    --rate) need_value "$@"; RATE=$2; shift 2 ;;
    --kills) need_value "$@"; KILLS=$2; shift 2 ;;
    --hot-seconds) need_value "$@"; HOT_SECONDS=$2; shift 2 ;;
    --connections) need_value "$@"; CONNECTIONS=$2; shift 2 ;;
    --stream-replicas) need_value "$@"; STREAM_REPLICAS=$2; shift 2 ;;
    --build) FORCE_BUILD=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
[[ $STREAM_REPLICAS == 1 || $STREAM_REPLICAS == 3 ]] || die "STREAM_REPLICAS must be 1 or 3"
for v in DURATION RATE CLIENTS ITEMS KILLS HOT_SECONDS CONNECTIONS; do
  [[ ${!v} =~ ^[0-9]+$ ]] && ((${!v} > 0)) || die "$v must be a positive whole number, got '${!v}'"
done

EVENTLAG=$BUILD/bin/flashsale-eventlag
LOADGEN=$BUILD/bin/flashsale-loadgen
bench_build "$FORCE_BUILD" flashsale flashsale-eventlag flashsale-loadgen
for tool in nats-server haproxy pgbench psql curl; do command -v "$tool" >/dev/null || die "missing $tool"; done

make_work_dir
REPLICA_PIDS=()
cleanup() {
  local rc=$? pid
  trap - ERR
  set +e
  for pid in "${REPLICA_PIDS[@]}" "${CHILD_PIDS[@]}"; do stop_pid "$pid" 5; done
  [[ -n $SERVICE_PID ]] && stop_pid "$SERVICE_PID" 10
  pg_stop_cluster
  if [[ $KEEP == 1 ]]; then echo "cluster: kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "cluster: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

pg_start_cluster "max_connections = 400" "wal_level = logical" "shared_buffers = 256MB" \
  "max_wal_senders = 10" "max_replication_slots = 10"
log "PostgreSQL 15 on 127.0.0.1:$PG_PORT"

# --- NATS: 3 nodes ---------------------------------------------------------------------------
NATS_CLIENT=() NATS_ROUTE=() NATS_MON=()
for i in 0 1 2; do
  free_port; NATS_CLIENT+=("$FREE_PORT"); free_port; NATS_ROUTE+=("$FREE_PORT")
  free_port; NATS_MON+=("$FREE_PORT")
done
ROUTES=$(printf 'nats://127.0.0.1:%s,' "${NATS_ROUTE[@]}"); ROUTES=${ROUTES%,}
SERVERS=$(printf 'nats://127.0.0.1:%s,' "${NATS_CLIENT[@]}"); SERVERS=${SERVERS%,}
for i in 0 1 2; do
  nats-server --addr 127.0.0.1 --port "${NATS_CLIENT[$i]}" --http_port "${NATS_MON[$i]}" \
    --server_name "n$i" --jetstream --store_dir "$WORK/nats-$i" --cluster_name bench \
    --cluster "nats://127.0.0.1:${NATS_ROUTE[$i]}" --routes "$ROUTES" >"$WORK/nats-$i.log" 2>&1 &
  CHILD_PIDS+=($!)
done
for _ in $(seq 1 300); do  # a JetStream cluster elects its meta leader in seconds
  ok=1
  for p in "${NATS_MON[@]}"; do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null 2>&1 || ok=0; done
  ((ok)) && break
  sleep 0.2
done
((ok)) || die "JetStream did not come up within 60 s: $(tail -2 "$WORK/nats-0.log")"
log "NATS JetStream: $SERVERS"

WITH_STREAM=(
  FLASHSALE_PLUGINS_LOAD='[{"file":"flashsale_storage_postgres"},{"file":"flashsale_event_source_pg_wal"},{"file":"flashsale_scheduler_pg_queue"},{"file":"flashsale_push_websocket"},{"file":"flashsale_event_stream_nats"}]'
  FLASHSALE_PLUGIN_NATS_SERVERS="$SERVERS" FLASHSALE_PLUGIN_NATS_REPLICAS="$STREAM_REPLICAS"
)

# replica DB NODE: starts a replica with the event stream; sets R_PUBLIC, R_ADMIN, R_PID.
replica() {
  start_service "$1" "$WORK/$2.log" FLASHSALE_CLUSTER_NODE_ID="$2" "${WITH_STREAM[@]}"
  R_PID=$SERVICE_PID R_PUBLIC=$PUBLIC_PORT R_ADMIN=$ADMIN_PORT
  SERVICE_PID=""
  REPLICA_PIDS+=("$R_PID")
}

mkdir -p "$RESULTS_DIR"
RESULTS=$RESULTS_DIR/cluster-$(date +%Y%m%d-%H%M%S).txt
{ results_header; echo "params: duration=${DURATION}s rate=$RATE clients=$CLIENTS kills=$KILLS hot_seconds=$HOT_SECONDS connections=$CONNECTIONS stream_replicas=$STREAM_REPLICAS"; } >"$RESULTS"

make_items() {  # make_items DB
  psql_db -d "$1" -v items="$ITEMS" >/dev/null <<'SQL'
INSERT INTO items (id, name, total_stock, available)
SELECT 'cdc-' || g, 'cdc item ' || g, 1000000, 1000000 FROM generate_series(1, :items) AS g;
SQL
}
# lag_run NAME DB ADMIN_PORT: pgbench placements at RATE for DURATION s on DB, measured by
# flashsale-eventlag on that admin listener; prints "p50 p99 events" of the run.
lag_run() {
  local name=$1 db=$2 marker="end-$1"
  DB=$db ADMIN_PORT=$3
  start_eventlag "$name" "$marker" u1- $((DURATION + CATCHUP_TIMEOUT + 30)) || die "no snapshot on :$3"
  pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -M prepared -c "$CLIENTS" -j 2 \
    -D items="$ITEMS" -D run=1 -D n=0 -D last_order=00000000-0000-0000-0000-000000000000 \
    -f "$ROOT/bench/cdc/place.sql" -T "$DURATION" -R "$RATE" "$db" >"$WORK/$name.pgbench" 2>&1
  insert_marker "$marker"
  finish_eventlag
  local line
  line=$(tail -1 "$WORK/$name.json")
  echo "$(json_field p50_ms "$line") $(json_field p99_ms "$line") $(json_field events "$line") $(json_field events_per_s "$line") $(json_field duplicates "$line")"
}

# --- 1. commit -> frame: single node, then a standby replica through JetStream ----------------
psql_db -d postgres -c "CREATE DATABASE single" -c "CREATE DATABASE replicated" >/dev/null
log "1/3 single node: starting"
start_service single "$WORK/single.log"
make_items single
read -r s_p50 s_p99 s_events s_rate s_dups < <(lag_run single single "$ADMIN_PORT")
log "single node: p50 ${s_p50} ms, p99 ${s_p99} ms over $s_events events"
stop_service || true

log "1/3 two replicas with the event stream: starting"
replica replicated leader; A_ADMIN=$R_ADMIN
replica replicated standby; B_ADMIN=$R_ADMIN B_PUBLIC=$R_PUBLIC
[[ $(json_string leader "$(curl -s "http://127.0.0.1:$B_ADMIN/admin/cluster")") == leader ]] ||
  log "note: the first replica does not lead (the standby measures its own events)"
make_items replicated
read -r r_p50 r_p99 r_events r_rate r_dups < <(lag_run replicated replicated "$B_ADMIN")
log "standby replica: p50 ${r_p50} ms, p99 ${r_p99} ms over $r_events events"

# --- 2. failover ------------------------------------------------------------------------------
log "2/3 failover: $KILLS kills of the CDC leader"
replica replicated r0
declare -A PID_OF=([leader]=${REPLICA_PIDS[0]} [standby]=${REPLICA_PIDS[1]} [r0]=$R_PID)
declare -A ADMIN_OF=([leader]=$A_ADMIN [standby]=$B_ADMIN [r0]=$R_ADMIN)
pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -M prepared -c 4 -j 1 \
  -D items="$ITEMS" -D run=2 -D n=0 -D last_order=00000000-0000-0000-0000-000000000000 \
  -f "$ROOT/bench/cdc/place.sql" -T 3600 -R 200 replicated >"$WORK/failover.pgbench" 2>&1 &
TRICKLE=$!
CHILD_PIDS+=("$TRICKLE")
appended() { curl -s -m 1 "http://127.0.0.1:$1/metrics" | awk '$1 == "flashsale_event_stream_appended_total" { print $2 }'; }
FAILOVERS=()
for k in $(seq 1 "$KILLS"); do
  sleep 1
  leader=""
  for node in "${!ADMIN_OF[@]}"; do
    leader=$(json_string leader "$(curl -s -m 2 "http://127.0.0.1:${ADMIN_OF[$node]}/admin/cluster")")
    [[ -n $leader ]] && break
  done
  [[ -n $leader && -n ${PID_OF[$leader]:-} ]] || die "kill $k: no leader known"
  declare -A before=()
  for node in "${!ADMIN_OF[@]}"; do [[ $node == "$leader" ]] || before[$node]=$(appended "${ADMIN_OF[$node]}"); done
  t0=$(now)
  kill -KILL "${PID_OF[$leader]}"
  unset "PID_OF[$leader]" "ADMIN_OF[$leader]"
  t1=""
  while [[ -z $t1 ]]; do
    for node in "${!ADMIN_OF[@]}"; do
      if awk -v a="$(appended "${ADMIN_OF[$node]}")" -v b="${before[$node]:-0}" 'BEGIN { exit !(a > b) }'; then t1=$(now); break; fi
    done
    [[ -n $t1 ]] || { awk -v t="$t0" -v n="$(now)" 'BEGIN { exit !(n - t > 30) }' && die "kill $k: no new leader appended within 30 s"; sleep 0.02; }
  done
  FAILOVERS+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')")
  log "kill $k: $leader died; first event appended by its successor after ${FAILOVERS[-1]} ms"
  replica replicated "r$k"
  PID_OF[r$k]=$R_PID ADMIN_OF[r$k]=$R_ADMIN
done
stop_pid "$TRICKLE" 3 || true
forget_pid "$TRICKLE"
read -r f_p50 f_p99 f_max < <(printf '%s\n' "${FAILOVERS[@]}" | sort -n |
  awk '{ v[NR] = $1 } END { i50 = int((NR + 1) * 0.5); i99 = int(NR * 0.99 + 0.999); if (i99 > NR) i99 = NR; print v[i50], v[i99], v[NR] }')

# --- 3. hot item: one node, then HAProxy over 3 replicas -------------------------------------
hot_run() {  # hot_run NAME PUBLIC ADMIN
  "$LOADGEN" --port "$2" --admin-port "$3" --create-item "hot-$1" --stock 100000000 \
    --connections "$CONNECTIONS" --duration "$HOT_SECONDS" >"$WORK/hot-$1.json" 2>"$WORK/hot-$1.err"
  local line
  line=$(tail -1 "$WORK/hot-$1.json")
  echo "$(json_field throughput_rps "$line") $(json_field p99_ms "$line") $(json_field errors "$line")"
}
log "3/3 hot item: one node"
for node in "${!PID_OF[@]}"; do
  [[ $(curl -s "http://127.0.0.1:${ADMIN_OF[$node]}/readyz" -o /dev/null -w '%{http_code}') == 200 ]] || continue
  one=$node; break
done
ONE_PUBLIC=$(grep -oE 'listening: public http://127\.0\.0\.1:[0-9]+' "$WORK/$one.log" | grep -oE '[0-9]+$')
# Only one replica runs for this run (the others are stopped, then started again).
for node in "${!PID_OF[@]}"; do [[ $node == "$one" ]] || { stop_pid "${PID_OF[$node]}" 10 || true; unset "PID_OF[$node]" "ADMIN_OF[$node]"; }; done
read -r h1_rps h1_p99 h1_err < <(hot_run one "$ONE_PUBLIC" "${ADMIN_OF[$one]}")
log "one node: $h1_rps req/s, p99 $h1_p99 ms"
PUBLICS=("$ONE_PUBLIC")
for i in 1 2; do replica replicated "hot$i"; PUBLICS+=("$R_PUBLIC"); done
free_port; HAPROXY_PORT=$FREE_PORT
{
  echo "defaults"; echo "  mode http"; echo "  timeout connect 2s"; echo "  timeout client 60s"; echo "  timeout server 60s"
  echo "frontend public"; echo "  bind 127.0.0.1:$HAPROXY_PORT"; echo "  default_backend replicas"
  echo "backend replicas"; echo "  balance roundrobin"
  for i in "${!PUBLICS[@]}"; do echo "  server r$i 127.0.0.1:${PUBLICS[$i]}"; done
} >"$WORK/haproxy.cfg"
haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
CHILD_PIDS+=($!)
until curl -s -o /dev/null "http://127.0.0.1:$HAPROXY_PORT/healthz"; do sleep 0.1; done
read -r h3_rps h3_p99 h3_err < <(hot_run three "$HAPROXY_PORT" "${ADMIN_OF[$one]}")
log "three replicas behind HAProxy: $h3_rps req/s, p99 $h3_p99 ms"

# --- report -----------------------------------------------------------------------------------
{
  echo
  echo "## 1. commit -> /admin/stream frame at $RATE placements/s for ${DURATION}s"
  printf '  %-44s p50 %8s ms   p99 %8s ms   %s events (%s/s), %s duplicates\n' "single node, no NATS" "$s_p50" "$s_p99" "$s_events" "$s_rate" "$s_dups"
  printf '  %-44s p50 %8s ms   p99 %8s ms   %s events (%s/s), %s duplicates\n' "standby replica, via the leader and JetStream R$STREAM_REPLICAS" "$r_p50" "$r_p99" "$r_events" "$r_rate" "$r_dups"
  echo
  echo "## 2. failover: kill -9 of the CDC leader -> first event appended by the next ($KILLS kills)"
  echo "  p50 $f_p50 ms, p99 $f_p99 ms, max $f_max ms; each: ${FAILOVERS[*]}"
  echo
  echo "## 3. hot item: $CONNECTIONS connections, ${HOT_SECONDS}s, a new user per request"
  printf '  %-44s %10s req/s   p99 %8s ms   errors %s\n' "one node" "$h1_rps" "$h1_p99" "$h1_err" "3 replicas behind HAProxy" "$h3_rps" "$h3_p99" "$h3_err"
  echo "  ratio 3 replicas / one node: $(awk -v a="$h3_rps" -v b="$h1_rps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') (on $(nproc) cores: the database and the replicas share them)"
} | tee -a "$RESULTS"
log "results in $RESULTS"
