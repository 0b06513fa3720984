#!/usr/bin/env bash
# A local flashsale cluster in one command (docs/deploy.md), all from Debian packages, on
# loopback: one PostgreSQL, a 3-node NATS JetStream cluster, N flashsale replicas (3 by default)
# reading and writing the event stream, and HAProxy in front of both listeners (WebSocket-aware,
# health-checked on /readyz) at the addresses scripts/run.sh uses. Ctrl-C stops everything and
# leaves nothing running; the data stays in var/cluster/ (PostgreSQL's, as root, in
# /var/lib/flashsale/cluster-pg-<number of this clone>) for the next start; --fresh starts from
# nothing.
#
# usage: scripts/cluster.sh [--replicas N] [--fresh]
#   public API  http://127.0.0.1:8080  (HAProxy → replicas 127.0.0.1:1808x)
#   admin API   http://127.0.0.1:8081  (HAProxy → replicas 127.0.0.1:1818x)
#   HAProxy's own page http://127.0.0.1:8404/ shows which replicas are up.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

replicas=3
fresh=0
while (($#)); do
  case "$1" in
    --replicas) [[ "${2:-}" =~ ^[1-9]$ ]] || { echo "cluster: --replicas needs 1..9" >&2; exit 2; }
                replicas=$2; shift 2 ;;
    --fresh) fresh=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "cluster: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '[cluster %s] %s\n' "$(date +%T)" "$*"; }
die() { say "FAILED: $*" >&2; exit 1; }

scripts/install-deps.sh
scripts/build.sh >/dev/null

dir=$repo/var/cluster
pg_port=15432
nats_ports=(14222 14223 14224)    # clients; routes at +2000, monitoring at +4000
public=127.0.0.1:8080
admin=127.0.0.1:8081
stats_port=8404

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$pg_port" "${nats_ports[@]}" $((nats_ports[0] + 2000)) $((nats_ports[1] + 2000)) \
         $((nats_ports[2] + 2000)) 8080 8081 "$stats_port"; do
  port_free "$p" || die "port $p is taken (is scripts/run.sh or another cluster running?)"
done
for i in $(seq 1 "$replicas"); do
  port_free $((18079 + i)) && port_free $((18179 + i)) || die "port $((18079 + i)) or $((18179 + i)) is taken"
done

((fresh)) && rm -rf "$dir"
mkdir -p "$dir/logs"

# --- Everything started here is stopped on every exit path. ---------------------------------
pids=()
pg_started=0
as_pg=()
cleanup() {
  trap - EXIT INT TERM
  say "stopping: replicas (drain), HAProxy, NATS, PostgreSQL"
  local p
  for p in "${replica_pids[@]:-}"; do [ -n "$p" ] && kill -INT "$p" 2>/dev/null || true; done
  for p in "${replica_pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  if ((pg_started)); then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir" -m fast -w stop >/dev/null 2>&1 || true
  fi
  say "stopped; data and logs stay in $dir"
}
replica_pids=()
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- PostgreSQL ------------------------------------------------------------------------------
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pg_bin/initdb" ] || die "no initdb under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
pg_dir=$dir/pg
if [ "$(id -u)" -eq 0 ]; then
  # initdb and postgres refuse to run as root, and the postgres user may not reach this clone
  # (e.g. under /root): its cluster lives in a folder of its own.
  as_pg=(runuser -u postgres --)
  pg_dir=/var/lib/flashsale/cluster-pg-$(printf %s "$repo" | cksum | cut -d' ' -f1)  # one per clone
  ((fresh)) && rm -rf "$pg_dir"
  mkdir -p "$pg_dir" && chown postgres: "$pg_dir" && chmod 700 "$pg_dir"
fi
if [ ! -f "$pg_dir/PG_VERSION" ]; then
  say "PostgreSQL: a new cluster in $pg_dir"
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir" -U flashsale -A trust -E UTF8 --no-locale \
    >"$dir/logs/initdb.log" 2>&1 || die "initdb failed: $(tail -3 "$dir/logs/initdb.log")"
fi
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir" -w -l "$pg_dir/server.log" \
  -o "-p $pg_port -k /tmp -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_connections=300 -c max_wal_senders=10 -c max_replication_slots=10" \
  start >/dev/null || die "PostgreSQL did not start: $(tail -3 "$pg_dir/server.log")"
pg_started=1
database_url="postgresql://flashsale@127.0.0.1:$pg_port/postgres?connect_timeout=5"
say "PostgreSQL: $database_url"

# --- NATS JetStream, 3 nodes -----------------------------------------------------------------
routes=""
for p in "${nats_ports[@]}"; do routes+="${routes:+,}nats://127.0.0.1:$((p + 2000))"; done
servers=""
for i in 0 1 2; do
  p=${nats_ports[$i]}
  servers+="${servers:+,}nats://127.0.0.1:$p"
  nats-server --addr 127.0.0.1 --port "$p" --http_port $((p + 4000)) --server_name "nats-$i" \
    --jetstream --store_dir "$dir/nats-$i" --cluster_name flashsale \
    --cluster "nats://127.0.0.1:$((p + 2000))" --routes "$routes" >"$dir/logs/nats-$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 100); do
  ok=1
  for p in "${nats_ports[@]}"; do
    curl -sf "http://127.0.0.1:$((p + 4000))/healthz" >/dev/null 2>&1 || ok=0
  done
  ((ok)) && break
  sleep 0.2
done
((ok)) || die "JetStream did not come up: see $dir/logs/nats-*.log"
say "NATS JetStream: $servers"

# --- flashsale replicas ----------------------------------------------------------------------
plugins='[{"file":"flashsale_storage_postgres"},{"file":"flashsale_event_source_pg_wal"},'
plugins+='{"file":"flashsale_scheduler_pg_queue"},{"file":"flashsale_push_websocket"},'
plugins+='{"file":"flashsale_event_stream_nats"}]'
start_replica() {
  local i=$1
  FLASHSALE_DATABASE_URL=$database_url FLASHSALE_CLUSTER_NODE_ID="replica-$i" \
  FLASHSALE_HTTP_LISTEN="127.0.0.1:$((18079 + i))" FLASHSALE_ADMIN_LISTEN="127.0.0.1:$((18179 + i))" \
  FLASHSALE_PLUGINS_LOAD=$plugins FLASHSALE_PLUGIN_NATS_SERVERS=$servers FLASHSALE_PLUGIN_NATS_REPLICAS=3 \
    setsid build/bin/flashsale serve >>"$dir/logs/replica-$i.log" 2>&1 &
  replica_pids[$i]=$!
}
for i in $(seq 1 "$replicas"); do start_replica "$i"; done
for i in $(seq 1 "$replicas"); do
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$((18079 + i))/readyz" >/dev/null 2>&1 && break
    kill -0 "${replica_pids[$i]}" 2>/dev/null || die "replica-$i ended: $(tail -3 "$dir/logs/replica-$i.log")"
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$((18079 + i))/readyz" >/dev/null || die "replica-$i did not get ready"
done
say "flashsale: $replicas replicas ready (logs in $dir/logs/replica-*.log)"

# --- HAProxy ---------------------------------------------------------------------------------
{
  cat <<EOF
# Made by scripts/cluster.sh; rewritten at each start.
global
  # no maxconn: HAProxy derives it from the descriptor limit it is given
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h          # WebSocket streams (/v1/stream, /admin/stream) stay open
  option redispatch
  retries 2
  default-server inter 500ms fall 2 rise 2 check
frontend stats
  bind 127.0.0.1:$stats_port
  stats enable
  stats uri /
  stats refresh 2s
frontend public
  bind $public
  default_backend public_replicas
frontend admin
  bind $admin
  default_backend admin_replicas
backend public_replicas
  balance leastconn
  option httpchk GET /readyz
  http-check expect status 200
EOF
  for i in $(seq 1 "$replicas"); do echo "  server replica-$i 127.0.0.1:$((18079 + i))"; done
  cat <<EOF
backend admin_replicas
  balance leastconn
  option httpchk GET /readyz
  http-check expect status 200
EOF
  for i in $(seq 1 "$replicas"); do echo "  server replica-$i 127.0.0.1:$((18179 + i))"; done
} >"$dir/haproxy.cfg"
haproxy -c -q -f "$dir/haproxy.cfg" || die "HAProxy refused $dir/haproxy.cfg"
haproxy -db -f "$dir/haproxy.cfg" >"$dir/logs/haproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "http://$public/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://$public/readyz" >/dev/null || die "HAProxy does not answer on $public: see $dir/logs/haproxy.log"
leader=$(curl -s "http://$admin/admin/cluster" | sed -n 's/.*"leader": *"\([^"]*\)".*/\1/p')

cat <<EOT

The cluster is up: public http://$public, admin http://$admin (HAProxy; its page: http://127.0.0.1:$stats_port/).
CDC leader: ${leader:-none yet}. Replicas (kill -9 one and watch the sale go on):
EOT
for i in $(seq 1 "$replicas"); do
  echo "  replica-$i  pid ${replica_pids[$i]}  public 127.0.0.1:$((18079 + i))  admin 127.0.0.1:$((18179 + i))"
done
cat <<EOT
Try:
  build/bin/flashsale-loadgen --port 8080 --admin-port 8081 --create-item drop-\$RANDOM --stock 500 --rate 300 --duration 60 --progress
  curl http://$admin/admin/cluster
  kill -9 <pid of the leader>        # a standby leads within a second; HAProxy drops the dead one
  build/bin/flashsale events tail --servers $servers
  scripts/admin-gui.sh               # the dashboard, through HAProxy
Ctrl-C stops it all.
EOT
# Until Ctrl-C; a replica that dies stays dead (that is the point), the rest goes on.
while true; do sleep 3600 & wait $! || true; done
