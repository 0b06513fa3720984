#!/usr/bin/env bash
# shellcheck disable=SC2154  # <phase>0_*, <phase>1_*: set by cpu_snapshot through printf -v
# Push fan-out benchmark (issue 6, SPEC §8 "Event lag: commit -> WebSocket frame at the client,
# p99 < 250 ms at 5 000 events/s"): CONNECTIONS users each hold one reserved order and one
# WebSocket on GET /v1/stream; pgbench takes the payment link of BATCH users away and gives it
# back in one transaction, at EVENT_RATE/BATCH transactions/s, so each transaction makes BATCH
# payment_link.ready events, each for another user; flashsale-wsbench records commit -> frame
# at the clients. Side by side, in the same run: the same load with no user connected and one
# consumer of GET /admin/stream (flashsale-eventlag), the fan-out's baseline. Also the service's
# RSS (fresh, before connecting, with every client connected and idle, at the end of the load,
# after the clients left). See bench/README.md, "Push fan-out".
#
# usage: bench/ws_push.sh [--connections N] [--rate EVENTS_PER_S] [--batch K] [--duration S]
#                         [--warmup S] [--clients C] [--wsbench-threads T] [--connect-rate R]
#                         [--max-connections M] [--skip-baseline] [--build] [--keep]
# Every flag has an environment variable of the same name in upper case (DURATION=30 ...;
# --rate is EVENT_RATE, --build is FORCE_BUILD=1).
set -Eeuo pipefail

BENCH_NAME=ws_push
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT, BUILD, PG_BIN, RESULTS_DIR, helpers

CONNECTIONS=${CONNECTIONS:-10000}     # WebSocket clients = users with one reserved order each
EVENT_RATE=${EVENT_RATE:-5000}        # payment_link.ready events/s (SPEC §8: 5,000)
BATCH=${BATCH:-25}                    # events (users) per transaction: pgbench -R EVENT_RATE/BATCH
DURATION=${DURATION:-60}              # measured seconds of load, per phase
WARMUP=${WARMUP:-5}                   # first seconds of each phase's load, not measured
CLIENTS=${CLIENTS:-8}                 # pgbench clients
PGBENCH_JOBS=${PGBENCH_JOBS:-2}
PGBENCH_MODE=${PGBENCH_MODE:-prepared}
WSBENCH_THREADS=${WSBENCH_THREADS:-1} # flashsale-wsbench I/O threads
CONNECT_RATE=${CONNECT_RATE:-2000}    # new WebSockets/s while connecting
MAX_PENDING=${MAX_PENDING:-256}       # WebSocket handshakes under way at a time
MAX_CONNECTIONS=${MAX_CONNECTIONS:-}   # the service's http.max_connections (default 2 x CONNECTIONS)
PLACE_RATE=${PLACE_RATE:-1000}        # orders/s while setting up
LINK_TIMEOUT=${LINK_TIMEOUT:-900}     # at most this long for the payment-link jobs of the set-up
SETTLE=${SETTLE:-5}                   # seconds with every client connected and idle, then RSS
CATCHUP_TIMEOUT=${CATCHUP_TIMEOUT:-60} # after the load: at most this long for the last frames
IDLE=${IDLE:-2}                       # ... or stop once the clients were silent this long
USER_PREFIX=${USER_PREFIX:-ws-}
ITEM=${ITEM:-ws-push}
SPEC_P99_MS=${SPEC_P99_MS:-250}
SKIP_BASELINE=${SKIP_BASELINE:-0}
FORCE_BUILD=${FORCE_BUILD:-0}
KEEP=${KEEP:-0}

usage() { sed -n '3,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --connections) need_value "$@"; CONNECTIONS=$2; shift 2 ;;
    --rate) need_value "$@"; EVENT_RATE=$2; shift 2 ;;
    --batch) need_value "$@"; BATCH=$2; shift 2 ;;
    --duration) need_value "$@"; DURATION=$2; shift 2 ;;
    --warmup) need_value "$@"; WARMUP=$2; shift 2 ;;
    --clients) need_value "$@"; CLIENTS=$2; shift 2 ;;
    --wsbench-threads) need_value "$@"; WSBENCH_THREADS=$2; shift 2 ;;
    --connect-rate) need_value "$@"; CONNECT_RATE=$2; shift 2 ;;
    --max-connections) need_value "$@"; MAX_CONNECTIONS=$2; shift 2 ;;
    --skip-baseline) SKIP_BASELINE=1; shift ;;
    --build) FORCE_BUILD=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
[[ -n $MAX_CONNECTIONS ]] || MAX_CONNECTIONS=$((2 * CONNECTIONS))
for v in CONNECTIONS EVENT_RATE BATCH DURATION WARMUP CLIENTS PGBENCH_JOBS WSBENCH_THREADS CONNECT_RATE \
         MAX_PENDING MAX_CONNECTIONS PLACE_RATE LINK_TIMEOUT SETTLE CATCHUP_TIMEOUT IDLE SPEC_P99_MS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((CONNECTIONS > 0 && CONNECTIONS <= 100000)) || die "CONNECTIONS must be 1..100000"
((BATCH > 0 && CONNECTIONS % BATCH == 0)) || die "CONNECTIONS ($CONNECTIONS) must be a multiple of BATCH ($BATCH)"
NBATCHES=$((CONNECTIONS / BATCH))
((CLIENTS > 0 && CLIENTS <= 250 && CLIENTS <= NBATCHES)) || die "CLIENTS must be 1..250 and <= CONNECTIONS/BATCH ($NBATCHES)"
((EVENT_RATE > 0 && DURATION > 0 && DURATION <= 3600 && IDLE > 0 && CATCHUP_TIMEOUT > 0)) ||
  die "EVENT_RATE, DURATION (<= 3600), IDLE and CATCHUP_TIMEOUT must be > 0"
((MAX_CONNECTIONS > CONNECTIONS)) || die "MAX_CONNECTIONS must be above CONNECTIONS"
[[ $USER_PREFIX =~ ^[a-z0-9-]{1,32}$ ]] || die "USER_PREFIX must be [a-z0-9-]{1,32}"
[[ $ITEM =~ ^[a-z0-9-]{1,48}$ ]] || die "ITEM must be [a-z0-9-]{1,48}"
TXN_RATE=$(awk -v e="$EVENT_RATE" -v k="$BATCH" 'BEGIN { printf "%.3f", e / k }')

# --- build, tools, limits -------------------------------------------------------------------
WSBENCH=$BUILD/bin/flashsale-wsbench
EVENTLAG=$BUILD/bin/flashsale-eventlag
LOADGEN=$BUILD/bin/flashsale-loadgen
bench_build "$FORCE_BUILD" flashsale flashsale-wsbench flashsale-eventlag flashsale-loadgen
for tool in initdb pg_ctl postgres; do [[ -x $PG_BIN/$tool ]] || die "missing $PG_BIN/$tool (postgresql-15)"; done
for tool in psql pgbench curl; do command -v "$tool" >/dev/null || die "missing $tool"; done
[[ -f $ROOT/bench/push/payment_links.sql ]] || die "missing bench/push/payment_links.sql"
# The service holds one socket per client (and inherits this shell's limit); wsbench raises its own.
need_fds=$((CONNECTIONS + 4096))
if (($(ulimit -Sn) < need_fds)); then
  if (($(ulimit -Hn) >= need_fds)); then ulimit -Sn "$need_fds"; else ulimit -n "$need_fds" 2>/dev/null || true; fi
fi
(($(ulimit -Sn) >= need_fds)) || die "ulimit -n is $(ulimit -Sn), $need_fds needed for $CONNECTIONS clients (raise the hard limit, or run as root)"
read -r port_lo port_hi </proc/sys/net/ipv4/ip_local_port_range
((port_hi - port_lo + 1 >= CONNECTIONS + 1000)) ||
  die "net.ipv4.ip_local_port_range ($port_lo-$port_hi) has too few ports for $CONNECTIONS connections"

# --- throwaway cluster ----------------------------------------------------------------------
make_work_dir
WSBENCH_PID=""
cleanup() {
  local rc=$?
  trap - ERR
  set +e
  [[ -z $WSBENCH_PID ]] || stop_pid "$WSBENCH_PID" 3
  for pid in "${CHILD_PIDS[@]}"; do stop_pid "$pid" 3; done
  [[ -z $SERVICE_PID ]] || stop_pid "$SERVICE_PID" 10
  pg_stop_cluster
  if [[ $KEEP == 1 ]]; then
    echo "ws_push: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "ws_push: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# As cdc_lag.sh: durability on (fsync, synchronous_commit, full_page_writes).
pg_start_cluster "max_connections = 300" "wal_level = logical" "shared_buffers = 256MB" \
  "fsync = on" "synchronous_commit = on"
DB=flashsale
psql_db -d postgres -c "CREATE DATABASE $DB" >/dev/null
log "PostgreSQL 15 on 127.0.0.1:$PG_PORT, database $DB"

mkdir -p "$RESULTS_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$RESULTS_DIR/ws_push-$STAMP.txt
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
{
  results_header
  echo "binaries: flashsale built $(date -u -r "$FLASHSALE" +%Y-%m-%dT%H:%M:%SZ), push_websocket plugin built $(date -u -r "$BUILD/lib/flashsale/flashsale_push_websocket.so" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo '?')"
  echo "params: connections=$CONNECTIONS event_rate=$EVENT_RATE/s batch=$BATCH (pgbench -R $TXN_RATE) duration=${DURATION}s warmup=${WARMUP}s clients=$CLIENTS pgbench_jobs=$PGBENCH_JOBS pgbench_mode=$PGBENCH_MODE wsbench_threads=$WSBENCH_THREADS connect_rate=$CONNECT_RATE max_pending=$MAX_PENDING http.max_connections=$MAX_CONNECTIONS skip_baseline=$SKIP_BASELINE"
  echo "postgres: $("$PG_BIN/postgres" --version); fsync, synchronous_commit, full_page_writes on; max_connections 300, shared_buffers 256MB"
  echo "ulimit -n: $(ulimit -Sn); FLASHSALE_* from the environment: $(env | grep -E '^FLASHSALE_' | tr '\n' ' ' || true)"
  echo "load average before the run: $LOAD_BEFORE (other work on the machine skews the figures)"
} >"$RESULTS"

# --- the service ----------------------------------------------------------------------------
log "starting flashsale serve (http.max_connections $MAX_CONNECTIONS)"
start_service "$DB" "$WORK/service.log" FLASHSALE_HTTP_MAX_CONNECTIONS="$MAX_CONNECTIONS"
log "service ready: public :$PUBLIC_PORT, admin :$ADMIN_PORT"
LOADED_PLUGINS=$(curl -s -m 2 "http://127.0.0.1:$ADMIN_PORT/admin/plugins" |
  grep -oE '"name":"[a-z0-9_]+"' | cut -d'"' -f4 | tr '\n' ' ' | sed 's/ $//' || true)
echo "loaded plugins: ${LOADED_PLUGINS:-?}" >>"$RESULTS"
[[ " $LOADED_PLUGINS " == *" websocket "* ]] || die "the push/websocket plugin is not loaded (plugins: ${LOADED_PLUGINS:-?})"

metrics() { curl -s -m 5 "http://127.0.0.1:$PUBLIC_PORT/metrics" || true; }
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVICE_PID/status" 2>/dev/null || echo "?"; }
hwm_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVICE_PID/status" 2>/dev/null || echo "?"; }
ws_gauge() { metric_sum 'flashsale_ws_connections{listener="public"}' "$1"; }
# A histogram's increase between two scrapes, as a scrape (for hist_pct); SERIES filters lines.
hist_delta() {  # hist_delta METRIC SERIES BEFORE_FILE AFTER_FILE
  awk -v m="$1" -v f="$2" 'NR == FNR { if (index($0, m) == 1 && index($0, f)) v[$1] = $NF; next }
    index($0, m) == 1 && index($0, f) { print $1, $NF - ($1 in v ? v[$1] : 0) }' "$3" "$4"
}
# Service threads: "tid ticks comm" (for the busiest threads in a window).
thread_dump() {
  local t
  for t in /proc/"$SERVICE_PID"/task/*; do
    awk '{ p = index($0, "("); q = index($0, ")"); n = split(substr($0, q + 2), a, " ");
           c = substr($0, p + 1, q - p - 1); gsub(/ /, "_", c); print $1, a[12] + a[13], c }' "$t/stat" 2>/dev/null || true
  done
}
thread_top() {  # thread_top BEFORE AFTER SECONDS: the 8 busiest service threads in between
  awk 'NR == FNR { t[$1] = $2; next } { d = $2 - ($1 in t ? t[$1] : 0); if (d > 0) print d, $3 "/" $1 }' "$1" "$2" |
    sort -rn | head -8 | awk -v hz="$CLK_TCK" -v s="$3" '{ printf "%s %.2f, ", $2, $1 / hz / s }' | sed 's/, $//'
}

RSS_FRESH=$(rss_mib)
log "service RSS after start-up: $RSS_FRESH MiB"

# --- set-up: the item, one reserved order per user, their payment links ---------------------
log "placing $CONNECTIONS orders on item $ITEM (users $USER_PREFIX""0 .. $USER_PREFIX$((CONNECTIONS - 1)), $PLACE_RATE/s)"
place_rc=0
"$LOADGEN" --port "$PUBLIC_PORT" --admin-port "$ADMIN_PORT" --create-item "$ITEM" --stock "$CONNECTIONS" \
  --payment-window 86400 --users "$CONNECTIONS" --user-prefix "$USER_PREFIX" --requests "$CONNECTIONS" \
  --rate "$PLACE_RATE" --connections 50 --threads 1 --duration 600 >"$WORK/place.json" 2>"$WORK/place.err" || place_rc=$?
place_line=$(tail -1 "$WORK/place.json" 2>/dev/null || true)
{ echo; echo "## set-up: flashsale-loadgen (exit $place_rc)"; cat "$WORK/place.err"; echo "loadgen json: $place_line"; } >>"$RESULTS"
reserved=$(psql_db -d "$DB" -At -c "SELECT count(*) FROM orders WHERE item_id = '$ITEM' AND status = 'reserved'")
((reserved == CONNECTIONS)) || { tail -5 "$WORK/place.err" >&2; die "$reserved reserved orders on $ITEM, $CONNECTIONS wanted"; }

# The payment-link job (default plugins: the built-in fake provider) sets each order's link
# once after placement; those UPDATEs must be over before measuring.
log "waiting for the $CONNECTIONS payment links of the set-up (the payment-link jobs)"
job_states() {
  psql_db -d "$DB" -At -F ' ' -c "SELECT kind, state, count(*), coalesce(max(last_error), '') FROM jobs
                                  WHERE kind = 'make_payment_link' GROUP BY kind, state ORDER BY state" 2>&1 || true
}
link_deadline=$((SECONDS + LINK_TIMEOUT)) next_note=$((SECONDS + 10)) links_t0=$SECONDS idle_since=""
while :; do
  read -r no_link jobs_left <<<"$(psql_db -d "$DB" -At -F ' ' -c "
    SELECT (SELECT count(*) FROM orders WHERE item_id = '$ITEM' AND payment_link IS NULL),
           (SELECT count(*) FROM jobs WHERE kind = 'make_payment_link' AND state IN ('queued', 'running'))")"
  ((no_link == 0 && jobs_left == 0)) && break
  ((SECONDS < link_deadline)) || { job_states >&2; die "after ${LINK_TIMEOUT}s: $no_link orders without a payment link, $jobs_left payment-link jobs left"; }
  kill -0 "$SERVICE_PID" 2>/dev/null || die "the service died (log: $WORK/service.log)"
  # No job left, yet orders without a link: a job ended without making one. That is a bug (the
  # service must give every reservation its link), so stop and show the evidence.
  if ((jobs_left == 0)); then
    [[ -n $idle_since ]] || idle_since=$SECONDS
    if ((SECONDS - idle_since >= 10)); then
      job_states >&2
      psql_db -d "$DB" -At -F ' ' -c "
        SELECT 'order ' || o.id, o.status, 'created ' || fs_ts(o.created_at), 'job ' || coalesce(j.state, 'none'),
               'attempts ' || coalesce(j.attempts, 0), 'job created ' || coalesce(fs_ts(j.created_at), '-'),
               'finished ' || coalesce(fs_ts(j.finished_at), '-'), 'last_error ' || coalesce(j.last_error, '-')
          FROM orders o LEFT JOIN jobs j ON j.unique_key = 'payment_link:' || o.id
         WHERE o.item_id = '$ITEM' AND o.payment_link IS NULL ORDER BY o.created_at LIMIT 20" >&2 || true
      die "no payment-link job left but $no_link orders without a link"
    fi
  else
    idle_since=""
  fi
  if ((SECONDS >= next_note)); then log "  $no_link orders without a link, $jobs_left jobs queued or running"; next_note=$((SECONDS + 10)); fi
  sleep 1
done
LINKS_S=$((SECONDS - links_t0))
log "every order has its payment link (waited ${LINKS_S}s)"
{ echo "payment-link jobs of the set-up (state, count, last error):"; job_states; } >>"$RESULTS"

# The bench-only mapping user number -> order id the pgbench script updates by (not in the
# event publication: only items, orders and reservations are).
psql_db -d "$DB" -v item="$ITEM" -v prefix="$USER_PREFIX" >/dev/null <<'SQL'
CREATE TABLE bench_users AS
  SELECT substr(user_id, length(:'prefix') + 1)::int AS n, id AS order_id
    FROM orders WHERE item_id = :'item';
ALTER TABLE bench_users ADD PRIMARY KEY (n);
VACUUM ANALYZE bench_users;
VACUUM ANALYZE orders;
CHECKPOINT;
SQL
mapped=$(psql_db -d "$DB" -At -c "SELECT count(*) FROM bench_users WHERE n >= 0 AND n < $CONNECTIONS")
((mapped == CONNECTIONS)) || die "bench_users maps $mapped users, $CONNECTIONS wanted"
echo "set-up: $reserved reserved orders; payment links of the set-up done after ${LINKS_S}s; service RSS after start-up $RSS_FRESH MiB" >>"$RESULTS"

# --- one paced load, shared by both phases ----------------------------------------------------
PGB_ARGS=(-h 127.0.0.1 -p "$PG_PORT" -U postgres -n -M "$PGBENCH_MODE" -c "$CLIENTS" -j "$PGBENCH_JOBS"
          -D k="$BATCH" -D nbatches="$NBATCHES" -D clients="$CLIENTS" -f "$ROOT/bench/push/payment_links.sql")

# The service's metrics once a second, with the RSS (SAMPLE_FILE), until SAMPLE_STOP exists.
start_sampler() {  # start_sampler FILE
  local file=$1
  rm -f "$WORK/sampler.stop"
  (
    while [[ ! -f $WORK/sampler.stop ]]; do
      m=$(metrics)
      printf '%s rss_mib=%s ws_connections=%s push_delivered=%s push_not_delivered=%s cdc_lag_seconds=%s compilers=%s other_pg_busy=%s load=%s\n' \
        "$(date +%H:%M:%S)" "$(rss_mib)" "$(ws_gauge "$m")" \
        "$(metric_sum 'flashsale_push_total{channel="websocket",outcome="delivered"}' "$m")" \
        "$(awk '/^flashsale_push_total\{channel="websocket"/ && !/outcome="delivered"/ { s += $NF } END { print s + 0 }' <<<"$m")" \
        "$(metric_sum flashsale_cdc_lag_seconds "$m")" "$(compilers_running)" "$(other_pg_busy)" "$(cut -d' ' -f1 /proc/loadavg)"
      sleep 1
    done
  ) >"$file" 2>/dev/null &
  SAMPLER_PID=$!
  CHILD_PIDS+=("$SAMPLER_PID")
}
stop_sampler() {
  touch "$WORK/sampler.stop"
  wait "$SAMPLER_PID" 2>/dev/null || true
  forget_pid "$SAMPLER_PID"
}

# drive_load PHASE: pgbench for WARMUP + DURATION s from LAUNCH_AT (set by the caller, with
# MEASURE_FROM = LAUNCH_AT + WARMUP); SIGUSR2 to wsbench at the launch when it runs. Sets
# <PHASE>_{tps,txns,lat,lag,window,rss_end,cpu}, CPU snapshots <PHASE>0/<PHASE>1, files.
drive_load() {
  local phase=$1 rc=0 pgb_pid top_secs window
  start_sampler "$WORK/samples-$phase.log"
  sleep_until "$LAUNCH_AT"
  [[ -z $WSBENCH_PID ]] || kill -USR2 "$WSBENCH_PID" 2>/dev/null || true
  : >"$WORK/pgbench-$phase.err"
  /usr/bin/time -f '%U %S' -o "$WORK/pgbench-$phase.time" \
    pgbench "${PGB_ARGS[@]}" -T $((WARMUP + DURATION)) -R "$TXN_RATE" -P 5 --progress-timestamp "$DB" \
    >"$WORK/pgbench-$phase.out" 2>"$WORK/pgbench-$phase.err" &
  pgb_pid=$!
  CHILD_PIDS+=("$pgb_pid")
  tail -n +1 -f --pid="$pgb_pid" "$WORK/pgbench-$phase.err" >&2 &
  sleep_until "$MEASURE_FROM"
  log "$phase: warm-up over, measuring ${DURATION}s"
  cpu_snapshot "${phase}0"
  proc_dump >"$WORK/procs-$phase-0.txt"
  thread_dump >"$WORK/threads-$phase-0.txt"
  # Per command and thread, up to a second before pgbench's end (its backends exit with it).
  top_secs=$((DURATION > 2 ? DURATION - 1 : 1))
  sleep_until "$(awk -v f="$MEASURE_FROM" -v d="$top_secs" 'BEGIN { printf "%.3f", f + d }')"
  proc_dump >"$WORK/procs-$phase-1.txt"
  thread_dump >"$WORK/threads-$phase-1.txt"
  printf -v "${phase}_rss_end" '%s' "$(rss_mib)"
  metrics >"$WORK/metrics-$phase-end.txt"
  wait "$pgb_pid" || rc=$?
  forget_pid "$pgb_pid"
  cpu_snapshot "${phase}1"
  window=$(secs_between "$MEASURE_FROM" "$(now)")
  printf -v "${phase}_window" '%s' "$window"
  printf -v "${phase}_load" '%s' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf -v "${phase}_rc" '%s' "$rc"
  printf -v "${phase}_tps" '%s' "$({ grep -oE '^tps = [0-9.]+' "$WORK/pgbench-$phase.out" || true; } | head -1 | awk '{ printf "%.1f", $3 }')"
  printf -v "${phase}_txns" '%s' "$({ grep -oE 'number of transactions actually processed: [0-9]+' "$WORK/pgbench-$phase.out" || echo 0; } | grep -oE '[0-9]+$')"
  printf -v "${phase}_lat" '%s' "$({ grep -oE '^latency average = [0-9.]+ ms' "$WORK/pgbench-$phase.out" || true; } | grep -oE '[0-9.]+' || true)"
  printf -v "${phase}_lag" '%s' "$({ grep -oE '^rate limit schedule lag: avg [0-9.]+ \(max [0-9.]+\) ms' "$WORK/pgbench-$phase.out" || true; } | sed -E 's/.*avg ([0-9.]+) \(max ([0-9.]+)\).*/\1 (max \2)/')"
  printf -v "${phase}_top" '%s' "$(top_processes "$WORK/procs-$phase-0.txt" "$WORK/procs-$phase-1.txt" "$top_secs")"
  printf -v "${phase}_threads" '%s' "$(thread_top "$WORK/threads-$phase-0.txt" "$WORK/threads-$phase-1.txt" "$top_secs")"
  log "$phase: load over (pgbench exit $rc)"
  {
    echo
    echo "## $phase: pgbench ${PGB_ARGS[*]} -T $((WARMUP + DURATION)) -R $TXN_RATE (exit $rc); measured from $MEASURE_FROM ($(date -u -d "@$MEASURE_FROM" +%H:%M:%S.%3N) UTC), ${window}s"
    cat "$WORK/pgbench-$phase.err" "$WORK/pgbench-$phase.out"
    echo "pgbench CPU s (user sys): $(cat "$WORK/pgbench-$phase.time" 2>/dev/null)"
  } >>"$RESULTS"
}

# cpu_line PHASE: cores used in the phase's window by the machine and the processes.
cpu_line() {
  local p=$1 w busy idle pct extra=""
  w=${p}_window
  w=${!w}
  local s0=${p}0_svc s1=${p}1_svc g0=${p}0_pg g1=${p}1_pg a0=${p}0_wal a1=${p}1_wal
  local ap0=${p}0_walpid ap1=${p}1_walpid b0=${p}0_busy b1=${p}1_busy i0=${p}0_idle i1=${p}1_idle
  busy=$((${!b1} - ${!b0})) idle=$((${!i1} - ${!i0}))
  pct=$(awk -v b="$busy" -v i="$idle" 'BEGIN { printf "%.0f", (b + i > 0 ? 100 * b / (b + i) : 0) }')
  local wal="?"
  [[ -n ${!ap0} && ${!ap0} == "${!ap1}" ]] && wal=$(cores $((${!a1} - ${!a0})) "$w")
  shift
  [[ $# -gt 0 ]] && extra=", $*"
  echo "machine ${pct}% busy ($(cores "$busy" "$w") of $(nproc)): postgres $(cores $((${!g1} - ${!g0})) "$w") (walsender $wal), service $(cores $((${!s1} - ${!s0})) "$w")$extra"
}

STREAM_DUR=$((WARMUP + DURATION + CATCHUP_TIMEOUT + 120))
METRICS_START=$WORK/metrics-start.txt
metrics >"$METRICS_START"

# --- phase 1: the baseline, one consumer of GET /admin/stream, no user connected -------------
bl_line=""
if [[ $SKIP_BASELINE != 1 ]]; then
  log "baseline: the same load, no user connected, flashsale-eventlag on GET /admin/stream"
  LAUNCH_AT=$(awk -v n="$(now)" 'BEGIN { printf "%.3f", n + 2 }')
  MEASURE_FROM=$(awk -v l="$LAUNCH_AT" -v w="$WARMUP" 'BEGIN { printf "%.3f", l + w }')
  start_eventlag baseline "$ITEM-end-1" "$USER_PREFIX" "$STREAM_DUR" "$MEASURE_FROM" || die "no snapshot from GET /admin/stream"
  el0=$(proc_ticks "$EVENTLAG_PID")
  metrics >"$WORK/metrics-baseline-start.txt"
  drive_load baseline
  el1=$(proc_ticks "$EVENTLAG_PID")
  insert_marker "$ITEM-end-1"
  finish_eventlag
  stop_sampler
  metrics >"$WORK/metrics-baseline-after.txt"
  bl_line=$(tail -1 "$WORK/baseline.json" 2>/dev/null || true)
  [[ $bl_line == '{"events":'* ]] || bl_line=""
  {
    echo
    echo "## baseline: flashsale-eventlag (GET /admin/stream)"
    cat "$WORK/baseline.err"
    echo "eventlag json: $bl_line"
    echo "samples (time rss_mib ws_connections push_delivered ...):"
    cat "$WORK/samples-baseline.log"
  } >>"$RESULTS"
  baseline_cpu=$(cpu_line baseline "eventlag $(cores $((el1 - el0)) "$baseline_window")")
fi

# --- phase 2: the fan-out, CONNECTIONS clients on GET /v1/stream ----------------------------
RSS_BEFORE=$(rss_mib)
log "fan-out: connecting $CONNECTIONS WebSockets to /v1/stream (service RSS now $RSS_BEFORE MiB)"
rm -f "$WORK/wsbench.ready"
: >"$WORK/wsbench.err"
"$WSBENCH" --port "$PUBLIC_PORT" --connections "$CONNECTIONS" --user-prefix "$USER_PREFIX" \
  --threads "$WSBENCH_THREADS" --connect-rate "$CONNECT_RATE" --max-pending "$MAX_PENDING" \
  --ready-file "$WORK/wsbench.ready" --load-on-usr2 --warmup "$WARMUP" \
  --duration $((STREAM_DUR + SETTLE + 60)) --idle "$IDLE" --idle-after-usr1 --progress \
  >"$WORK/wsbench.json" 2>"$WORK/wsbench.err" &
WSBENCH_PID=$!
tail -n +1 -f --pid="$WSBENCH_PID" "$WORK/wsbench.err" >&2 &
ramp_deadline=$((SECONDS + CONNECTIONS / CONNECT_RATE + 330))
until [[ -f $WORK/wsbench.ready ]]; do
  kill -0 "$WSBENCH_PID" 2>/dev/null || die "flashsale-wsbench exited while connecting (see above)"
  kill -0 "$SERVICE_PID" 2>/dev/null || die "the service died while the clients connected (log: $WORK/service.log)"
  ((SECONDS < ramp_deadline)) || die "flashsale-wsbench did not finish connecting"
  sleep 0.2
done
CONNECT_NOTE=$(cat "$WORK/wsbench.ready")
sleep "$SETTLE"
RSS_IDLE=$(rss_mib)
metrics >"$WORK/metrics-connected.txt"
WS_IDLE=$(ws_gauge "$(cat "$WORK/metrics-connected.txt")")
log "connected ($CONNECT_NOTE); after ${SETTLE}s idle: service RSS $RSS_IDLE MiB, flashsale_ws_connections $WS_IDLE"

LAUNCH_AT=$(awk -v n="$(now)" 'BEGIN { printf "%.3f", n + 2 }')
MEASURE_FROM=$(awk -v l="$LAUNCH_AT" -v w="$WARMUP" 'BEGIN { printf "%.3f", l + w }')
# The admin stream meanwhile too (the fan-out's lag before the channel vs after it).
start_eventlag fanout-admin "$ITEM-end-2" "$USER_PREFIX" "$STREAM_DUR" "$MEASURE_FROM" || die "no snapshot from GET /admin/stream"
el0=$(proc_ticks "$EVENTLAG_PID")
ws0=$(proc_ticks "$WSBENCH_PID")
metrics >"$WORK/metrics-fanout-start.txt"
drive_load fanout
ws1=$(proc_ticks "$WSBENCH_PID")
el1=$(proc_ticks "$EVENTLAG_PID")
RSS_LOADED=$fanout_rss_end
WS_LOADED=$(ws_gauge "$(cat "$WORK/metrics-fanout-end.txt")")
insert_marker "$ITEM-end-2"
finish_eventlag
kill -USR1 "$WSBENCH_PID" 2>/dev/null || true
waited=0
while kill -0 "$WSBENCH_PID" 2>/dev/null && ((waited < CATCHUP_TIMEOUT * 10)); do sleep 0.1; waited=$((waited + 1)); done
if kill -0 "$WSBENCH_PID" 2>/dev/null; then
  log "the clients still got frames ${CATCHUP_TIMEOUT}s after the load: stopping flashsale-wsbench"
  kill -TERM "$WSBENCH_PID" 2>/dev/null || true
fi
wsbench_rc=0
wait "$WSBENCH_PID" 2>/dev/null || wsbench_rc=$?
WSBENCH_PID=""
stop_sampler
metrics >"$WORK/metrics-fanout-after.txt"
sleep 3
RSS_AFTER=$(rss_mib)
RSS_PEAK=$(hwm_mib)
WS_AFTER=$(ws_gauge "$(metrics)")
fanout_cpu=$(cpu_line fanout "wsbench $(cores $((ws1 - ws0)) "$fanout_window"), eventlag $(cores $((el1 - el0)) "$fanout_window")")

ws_line=$(tail -1 "$WORK/wsbench.json" 2>/dev/null || true)
[[ $ws_line == '{"connections":'* ]] || ws_line=""
fa_line=$(tail -1 "$WORK/fanout-admin.json" 2>/dev/null || true)
[[ $fa_line == '{"events":'* ]] || fa_line=""
{
  echo
  echo "## fan-out: flashsale-wsbench (exit $wsbench_rc), $CONNECTIONS clients on GET /v1/stream"
  cat "$WORK/wsbench.err"
  echo "wsbench json: $ws_line"
  echo
  echo "## fan-out: flashsale-eventlag on GET /admin/stream meanwhile"
  cat "$WORK/fanout-admin.err"
  echo "eventlag json: $fa_line"
  echo
  echo "samples (time rss_mib ws_connections push_delivered ...):"
  cat "$WORK/samples-fanout.log"
} >>"$RESULTS"

# --- stop the service ----------------------------------------------------------------------
log "stopping the service (SIGTERM)"
svc_rc=0
stop_service || svc_rc=$?
awk '/listening: public/ { up = 1; next } up' "$WORK/service.log" |
  grep -iE 'error|fatal|panic|abort|terminate|warn|lost|too slow|reconnect' | head -30 >"$WORK/service-problems.txt" || true
{
  echo
  echo "service exit status after SIGTERM: $svc_rc"
  echo "every flashsale_* metric after the fan-out (no histogram buckets):"
  grep -E '^flashsale_' "$WORK/metrics-fanout-after.txt" | grep -vE '_bucket\{' || true
  echo "flashsale_push_latency_seconds buckets after the fan-out:"
  grep -E '^flashsale_push_latency_seconds' "$WORK/metrics-fanout-after.txt" || true
  echo "service log lines with error/warn/lost/too slow after start-up (first 30):"
  cat "$WORK/service-problems.txt"
  echo "service log (last 30 lines):"
  tail -30 "$WORK/service.log"
} >>"$RESULTS"

# --- figures ---------------------------------------------------------------------------------
expected_fanout=$((fanout_txns * BATCH))
ws_types=$(json_object types "$ws_line")
ws_links=$(type_count "$ws_types" payment_link.ready)
ws_missing=$((expected_fanout - ws_links))
closes=$(json_object close_reasons "$ws_line")
push_fanout=$(hist_delta flashsale_push_latency_seconds 'channel="websocket"' "$WORK/metrics-fanout-start.txt" "$WORK/metrics-fanout-after.txt" |
  hist_pct flashsale_push_latency_seconds)
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v == "") print "FAIL (no figure)"; else if (v + 0 < t + 0) print "PASS"; else print "FAIL" }'; }
row() {  # row NAME EVENTS_PER_S P50 P90 P99 P999 MAX MISSING
  printf '  %-36s %10s %8s %8s %8s %8s %8s %8s\n' "$@"
}
fanout_rate_db=$(awk -v t="$fanout_tps" -v k="$BATCH" 'BEGIN { printf "%.0f", t * k }')
ws_rate=$(json_field frames_per_s "$ws_line")
fa_links=$(type_count "$(json_object user_prefix_types "$fa_line")" payment_link.ready)
ws_p99=$(json_field p99_ms "$ws_line")
integrity=PASS
[[ $fanout_rc == 0 && $fanout_txns -gt 0 && ${baseline_rc:-0} == 0 && -n $ws_line && $(json_field user_mismatches "$ws_line") == 0 && $(json_field duplicates "$ws_line") == 0 &&
   $(json_field out_of_order "$ws_line") == 0 && $(json_field malformed "$ws_line") == 0 &&
   $(json_field closed_by_server "$ws_line") == 0 && $ws_missing -le 0 &&
   $(json_field connected "$ws_line") == "$CONNECTIONS" ]] || integrity=FAIL
# Samples (one a second) with a compiler, or another busy PostgreSQL, on the machine: "n / all".
noisy_samples() {  # noisy_samples FIELD PHASE
  [[ -f $WORK/samples-$2.log ]] || { echo "-"; return; }
  awk -v f="$1=" '{ for (i = 2; i <= NF; i++) if (index($i, f) == 1 && substr($i, length(f) + 1) + 0 > 0) n++ } END { printf "%d / %d", n, NR }' "$WORK/samples-$2.log"
}

report=$(
  echo "plugins: ${LOADED_PLUGINS:-?}"
  echo "push fan-out: $CONNECTIONS WebSocket clients, target $EVENT_RATE events/s = pgbench -R $TXN_RATE x $BATCH payment_link.ready per transaction, ${DURATION}s measured after ${WARMUP}s warm-up, per phase"
  row "commit -> frame, ms" "events/s" "p50" "p90" "p99" "p99.9" "max" "missing"
  if [[ -n $bl_line ]]; then
    bl_links=$(type_count "$(json_object user_prefix_types "$bl_line")" payment_link.ready)
    row "baseline: /admin/stream, no users" "$(json_field events_per_s "$bl_line")" "$(json_field p50_ms "$bl_line")" \
      "$(json_field p90_ms "$bl_line")" "$(json_field p99_ms "$bl_line")" "$(json_field p999_ms "$bl_line")" \
      "$(json_field max_ms "$bl_line")" "$((baseline_txns * BATCH - bl_links))"
  fi
  row "fan-out: $CONNECTIONS clients, /v1/stream" "${ws_rate:--}" "$(json_field p50_ms "$ws_line")" "$(json_field p90_ms "$ws_line")" \
    "${ws_p99:--}" "$(json_field p999_ms "$ws_line")" "$(json_field max_ms "$ws_line")" "$ws_missing"
  row "fan-out: /admin/stream meanwhile" "$(json_field events_per_s "$fa_line")" "$(json_field p50_ms "$fa_line")" \
    "$(json_field p90_ms "$fa_line")" "$(json_field p99_ms "$fa_line")" "$(json_field p999_ms "$fa_line")" \
    "$(json_field max_ms "$fa_line")" "$((expected_fanout - fa_links))"
  echo "  (latency = receive time - committed_at, which has millisecond precision: 0-1 ms above the truth;"
  echo "   missing = pgbench's transactions x $BATCH - payment_link.ready frames received, warm-up included)"
  if [[ -n $bl_line ]]; then
    printf '  %-44s %s\n' "baseline pgbench" "tps ${baseline_tps:--} x $BATCH = $(awk -v t="$baseline_tps" -v k="$BATCH" 'BEGIN { printf "%.0f", t * k }') events/s; latency avg ${baseline_lat:--} ms, schedule lag avg ${baseline_lag:--} ms"
    printf '  %-44s %s\n' "baseline CPU (window)" "$baseline_cpu"
    printf '  %-44s %s\n' "baseline busiest commands (cores)" "$baseline_top"
  fi
  printf '  %-44s %s\n' "fan-out pgbench" "tps ${fanout_tps:--} x $BATCH = $fanout_rate_db events/s; latency avg ${fanout_lat:--} ms, schedule lag avg ${fanout_lag:--} ms"
  printf '  %-44s %s\n' "fan-out clients" "$(json_field connected "$ws_line") of $CONNECTIONS connected in $(json_field ramp_s "$ws_line") s ($(json_field connect_failed "$ws_line") failed, $(json_field connect_retries "$ws_line") retries); $(json_field open_at_end "$ws_line") open at the end"
  printf '  %-44s %s\n' "frames" "$(json_field frames "$ws_line") measured in $(json_field seconds "$ws_line") s + $(json_field warmup_frames "$ws_line") warm-up; payment_link.ready $ws_links of $expected_fanout expected; worst 1-s p99 $(json_field worst_second_p99_ms "$ws_line") ms"
  printf '  %-44s %s\n' "closed by the server" "$(json_field closed_by_server "$ws_line") ${closes:-}"
  printf '  %-44s %s\n' "user_id mismatches / dup / out of order / bad" "$(json_field user_mismatches "$ws_line") / $(json_field duplicates "$ws_line") / $(json_field out_of_order "$ws_line") / $(json_field malformed "$ws_line")"
  printf '  %-44s %s\n' "service RSS MiB" "after start-up $RSS_FRESH; before connecting $RSS_BEFORE; $CONNECTIONS connected, idle $RSS_IDLE; end of load $RSS_LOADED; clients gone $RSS_AFTER (peak $RSS_PEAK)"
  printf '  %-44s %s\n' "flashsale_ws_connections{public}" "idle $WS_IDLE, end of load $WS_LOADED, clients gone $WS_AFTER"
  printf '  %-44s %s\n' "flashsale_push_latency_seconds{websocket}" "fan-out phase (commit -> handed to the channel): $push_fanout"
  printf '  %-44s %s\n' "fan-out CPU (window)" "$fanout_cpu"
  printf '  %-44s %s\n' "fan-out busiest commands (cores)" "$fanout_top"
  printf '  %-44s %s\n' "fan-out busiest service threads (cores)" "$fanout_threads"
  printf '  %-44s %s\n' "wsbench" "$(json_field wsbench_cpu_s "$ws_line") CPU s in all, peak RSS $(json_field wsbench_max_rss_mib "$ws_line") MiB, $WSBENCH_THREADS thread(s)"
  printf '  %-44s %s\n' "compilers running (samples with any / all)" "baseline $(noisy_samples compilers baseline), fan-out $(noisy_samples compilers fanout)"
  printf '  %-44s %s\n' "other busy PostgreSQL (samples with any / all)" "baseline $(noisy_samples other_pg_busy baseline), fan-out $(noisy_samples other_pg_busy fanout)"
  printf '  %-44s %s\n' "load average" "before $LOAD_BEFORE; end of the baseline ${baseline_load:--}; end of the fan-out ${fanout_load:--}"
  echo "  SPEC 8 event lag at the clients, p99 < ${SPEC_P99_MS} ms: $(verdict "$ws_p99" "$SPEC_P99_MS") (p99 ${ws_p99:--} ms at ${ws_rate:--} frames/s); rate $(awk -v r="$fanout_rate_db" -v t="$EVENT_RATE" 'BEGIN { print (r + 0 >= 0.95 * t ? "reached" : "NOT reached") }') ($fanout_rate_db of $EVENT_RATE events/s committed)"
  echo "  stream integrity (pgbench ran, all connected, none closed, no mismatch, loss, duplicate or disorder): $integrity"
  [[ $fanout_rc == 0 && ${baseline_rc:-0} == 0 ]] || echo "  pgbench FAILED (exit: baseline ${baseline_rc:--}, fan-out $fanout_rc): see the results file"
  [[ -s $WORK/service-problems.txt ]] && echo "  the service log has error/warning lines: see the results file"
  echo "  service exit status after SIGTERM: $svc_rc"
)
{ echo; echo "## summary"; echo "$report"; } >>"$RESULTS"
echo
echo "$report"
echo "results: $RESULTS"
[[ $integrity == PASS ]] || exit 1  # a list: no ERR trap
