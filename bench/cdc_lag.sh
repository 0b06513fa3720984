#!/usr/bin/env bash
# shellcheck disable=SC2154  # c0_*, c1_*, b0_*, b1_*: set by cpu_snapshot through printf -v
# CDC event-lag benchmark (issue 4, SPEC §5 and §8): pgbench drives lifecycle transactions
# (fs_place_batch, one order per transaction) into a throwaway PostgreSQL 15 cluster at a fixed
# rate while `flashsale serve` turns the write-ahead log into events and flashsale-eventlag,
# connected to GET /admin/stream, measures commit -> frame latency of every event. Then a
# backlog run measures how fast the pipeline decodes when it is not paced. See bench/README.md.
#
# usage: bench/cdc_lag.sh [--duration S] [--rate R] [--clients N] [--items N] [--stock K]
#                         [--cancel-pct P] [--batch B] [--mix place|lifecycle] [--warmup S] [--backlog S]
#                         [--catchup-timeout S] [--pgbench-jobs J] [--plugins default|cdc]
#                         [--build] [--keep]
# Every flag has an environment variable of the same name in upper case (DURATION=30 ...;
# --build is FORCE_BUILD=1).
set -Eeuo pipefail

BENCH_NAME=cdc_lag
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT, BUILD, PG_BIN, RESULTS_DIR, helpers

DURATION=${DURATION:-60}              # seconds of paced load, measured
RATE=${RATE:-5500}                    # pgbench -R: lifecycle transactions/s (0: as fast as it goes)
CLIENTS=${CLIENTS:-50}                # pgbench clients (enough for group commit; more only crowd the CPUs)
ITEMS=${ITEMS:-200}                   # items cdc-1 .. cdc-N, each transaction on a random one
STOCK=${STOCK:-1000000}               # per item: large, so every placement is a reservation
CANCEL_PCT=${CANCEL_PCT:-0}           # % of transactions that cancel the client's last order
BATCH=${BATCH:-1}                     # orders per transaction (> 1: like the service's coalescer)
MIX=${MIX:-place}                     # place: placements (and CANCEL_PCT cancels); lifecycle: each
                                      # order placed, given its link and paid (3 transactions)
WARMUP=${WARMUP:-5}                   # first seconds of the load, not measured (new backends)
BACKLOG=${BACKLOG:-20}                # seconds of unpaced load while the service is frozen (0: skip)
CATCHUP_TIMEOUT=${CATCHUP_TIMEOUT:-60} # after the load: at most this long for the stream to catch up
IDLE=${IDLE:-2}                       # ... or stop once the stream was silent this long
PGBENCH_JOBS=${PGBENCH_JOBS:-2}
PGBENCH_MODE=${PGBENCH_MODE:-prepared}
PLUGINS=${PLUGINS:-default}           # default: config/flashsale.json's plugins (every consumer of
                                      # the event bus); cdc: storage + pg_wal only, so the admin
                                      # stream is the bus's only consumer
TARGET_P99_MS=${TARGET_P99_MS:-100}   # issue 4
SPEC_P99_MS=${SPEC_P99_MS:-250}       # SPEC §8, event lag
FORCE_BUILD=${FORCE_BUILD:-0}
KEEP=${KEEP:-0}

usage() { sed -n '3,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) need_value "$@"; DURATION=$2; shift 2 ;;
    --rate) need_value "$@"; RATE=$2; shift 2 ;;
    --clients) need_value "$@"; CLIENTS=$2; shift 2 ;;
    --items) need_value "$@"; ITEMS=$2; shift 2 ;;
    --stock) need_value "$@"; STOCK=$2; shift 2 ;;
    --cancel-pct) need_value "$@"; CANCEL_PCT=$2; shift 2 ;;
    --batch) need_value "$@"; BATCH=$2; shift 2 ;;
    --mix) need_value "$@"; MIX=$2; shift 2 ;;
    --warmup) need_value "$@"; WARMUP=$2; shift 2 ;;
    --backlog) need_value "$@"; BACKLOG=$2; shift 2 ;;
    --catchup-timeout) need_value "$@"; CATCHUP_TIMEOUT=$2; shift 2 ;;
    --pgbench-jobs) need_value "$@"; PGBENCH_JOBS=$2; shift 2 ;;
    --plugins) need_value "$@"; PLUGINS=$2; shift 2 ;;
    --build) FORCE_BUILD=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
for v in DURATION CLIENTS ITEMS STOCK CANCEL_PCT BATCH WARMUP BACKLOG CATCHUP_TIMEOUT IDLE PGBENCH_JOBS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[[ $RATE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "RATE must be a number, got '$RATE'"
((DURATION > 0 && DURATION <= 3600)) || die "DURATION must be 1..3600"
((CLIENTS > 0 && CLIENTS <= 250)) || die "CLIENTS must be 1..250 (max_connections is 300)"
((ITEMS > 0 && ITEMS <= 100000)) || die "ITEMS must be 1..100000"
((STOCK <= 2000000000)) || die "STOCK must be <= 2000000000 (an integer column)"
((CANCEL_PCT <= 90)) || die "CANCEL_PCT must be 0..90"
((BATCH >= 1 && BATCH <= 1000)) || die "BATCH must be 1..1000"
((BATCH == 1 || CANCEL_PCT == 0)) || die "--batch > 1 and --cancel-pct do not combine"
[[ $MIX == place || $MIX == lifecycle ]] || die "MIX must be place or lifecycle"
[[ $MIX == place ]] || ((BATCH == 1 && CANCEL_PCT == 0)) || die "--mix lifecycle takes neither --batch nor --cancel-pct"
((BACKLOG <= 40)) || die "BACKLOG must be <= 40 s (the frozen service must answer the server within wal_sender_timeout, 60 s)"
((CATCHUP_TIMEOUT > 0 && CATCHUP_TIMEOUT <= 600)) || die "CATCHUP_TIMEOUT must be 1..600"
((IDLE > 0)) || die "IDLE must be > 0"
[[ $PLUGINS == default || $PLUGINS == cdc ]] || die "PLUGINS must be default or cdc, got '$PLUGINS'"
if [[ $PLUGINS == cdc ]]; then
  [[ -z ${FLASHSALE_PLUGINS_LOAD:-} ]] || die "--plugins cdc and FLASHSALE_PLUGINS_LOAD do not combine"
  export FLASHSALE_PLUGINS_LOAD='[{"file":"flashsale_storage_postgres","required":true},{"file":"flashsale_event_source_pg_wal","required":true}]'
fi

# --- build ----------------------------------------------------------------------------------
EVENTLAG=$BUILD/bin/flashsale-eventlag
bench_build "$FORCE_BUILD" flashsale flashsale-eventlag
for tool in initdb pg_ctl postgres; do [[ -x $PG_BIN/$tool ]] || die "missing $PG_BIN/$tool (postgresql-15)"; done
for tool in psql pgbench curl; do command -v "$tool" >/dev/null || die "missing $tool"; done
for f in place cancel place_batch lifecycle; do [[ -f $ROOT/bench/cdc/$f.sql ]] || die "missing bench/cdc/$f.sql"; done

# --- throwaway cluster ----------------------------------------------------------------------
make_work_dir

cleanup() {
  local rc=$?
  trap - ERR
  set +e
  for pid in "${CHILD_PIDS[@]}"; do stop_pid "$pid" 3; done
  if [[ -n $SERVICE_PID ]] && kill -0 "$SERVICE_PID" 2>/dev/null; then
    kill -CONT "$SERVICE_PID" 2>/dev/null  # a frozen process would not act on SIGTERM
    stop_pid "$SERVICE_PID" 10
  fi
  pg_stop_cluster
  if [[ $KEEP == 1 ]]; then
    echo "cdc_lag: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "cdc_lag: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# Durability stays on (fsync, synchronous_commit, full_page_writes: the defaults); every
# transaction waits for its WAL flush, which concurrent commits share (group commit).
pg_start_cluster "max_connections = 300" "wal_level = logical" "shared_buffers = 256MB" \
  "fsync = on" "synchronous_commit = on"

DB=flashsale
psql_db -d postgres -c "CREATE DATABASE $DB" >/dev/null
log "PostgreSQL 15 on 127.0.0.1:$PG_PORT, database $DB"
PG_SETTINGS=$(psql_db -d "$DB" -At -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_level', 'wal_sync_method',
                 'max_connections', 'shared_buffers', 'max_wal_size', 'commit_delay')")

# --- results --------------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$RESULTS_DIR/cdc_lag-$STAMP.txt
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
{
  results_header
  echo "binaries: flashsale built $(date -u -r "$FLASHSALE" +%Y-%m-%dT%H:%M:%SZ), pg_wal plugin built $(date -u -r "$BUILD/lib/flashsale/flashsale_event_source_pg_wal.so" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo '?')"
  echo "params: duration=${DURATION}s rate=$RATE clients=$CLIENTS items=$ITEMS stock=$STOCK cancel_pct=$CANCEL_PCT batch=$BATCH mix=$MIX warmup=${WARMUP}s backlog=${BACKLOG}s catchup_timeout=${CATCHUP_TIMEOUT}s idle=${IDLE}s pgbench_jobs=$PGBENCH_JOBS pgbench_mode=$PGBENCH_MODE plugins=$PLUGINS${FLASHSALE_PLUGINS_LOAD:+ (FLASHSALE_PLUGINS_LOAD=$FLASHSALE_PLUGINS_LOAD)}"
  echo "postgres: $("$PG_BIN/postgres" --version); $PG_SETTINGS (shared_buffers in 8 kB pages, max_wal_size in MB)"
  echo "load average before the run: $LOAD_BEFORE (other work on the machine skews the figures)"
} >"$RESULTS"

# --- the service ----------------------------------------------------------------------------
log "starting flashsale serve"
start_service "$DB" "$WORK/service.log"
log "service ready: public :$PUBLIC_PORT, admin :$ADMIN_PORT"
LOADED_PLUGINS=$(curl -s -m 2 "http://127.0.0.1:$ADMIN_PORT/admin/plugins" |
  grep -oE '"name":"[a-z0-9_]+"' | cut -d'"' -f4 | tr '\n' ' ' | sed 's/ $//' || true)
echo "loaded plugins: ${LOADED_PLUGINS:-?} (--plugins $PLUGINS)" >>"$RESULTS"
cdc_metrics() { curl -s -m 2 "http://127.0.0.1:$PUBLIC_PORT/metrics" | grep -E '^flashsale_cdc_' || true; }
# The events a placement backlog makes (payment_link.ready, from the service's own job workers,
# is left out: those follow at the workers' pace, not the decoder's).
backlog_events() {
  awk '$1 ~ /^flashsale_cdc_events_total\{type="(order\.reserved|order\.waiting|inventory\.changed|item\.created)"\}$/ { s += $NF }
       END { printf "%d\n", s }' <<<"$1"
}

# --- items, warm-up -------------------------------------------------------------------------
log "creating $ITEMS items cdc-1 .. cdc-$ITEMS, stock $STOCK each"
psql_db -d "$DB" -v items="$ITEMS" -v stock="$STOCK" >/dev/null <<'SQL'
INSERT INTO items (id, name, total_stock, available)
SELECT 'cdc-' || g, 'cdc item ' || g, :stock, :stock FROM generate_series(1, :items) AS g;
SQL

# pgbench at RATE with the lifecycle scripts; RUN names the phase (users u<RUN>-...).
pgbench_args() {  # pgbench_args RUN
  local args=(-h 127.0.0.1 -p "$PG_PORT" -U postgres -n -M "$PGBENCH_MODE" -c "$CLIENTS" -j "$PGBENCH_JOBS"
              -D items="$ITEMS" -D run="$1" -D n=0 -D last_order=00000000-0000-0000-0000-000000000000)
  if [[ $MIX == lifecycle ]]; then
    args+=(-f "$ROOT/bench/cdc/lifecycle.sql")
  elif ((BATCH > 1)); then
    args+=(-D batch="$BATCH" -f "$ROOT/bench/cdc/place_batch.sql")
  elif ((CANCEL_PCT > 0)); then
    args+=(-f "$ROOT/bench/cdc/place.sql@$((100 - CANCEL_PCT))" -f "$ROOT/bench/cdc/cancel.sql@$CANCEL_PCT")
  else
    args+=(-f "$ROOT/bench/cdc/place.sql")
  fi
  printf '%s\n' "${args[@]}"
}
RATE_ARGS=()
# A lifecycle script run is three database transactions.
[[ $RATE == 0 || $RATE == 0.0 ]] ||
  RATE_ARGS=(-R "$(awk -v r="$RATE" -v m="$MIX" 'BEGIN { printf "%.3f", (m == "lifecycle" ? r / 3 : r) }')")

psql_db -d "$DB" -c CHECKPOINT >/dev/null

# --- the measured run -----------------------------------------------------------------------

# One pgbench run of WARMUP + DURATION seconds: its first WARMUP seconds (new backends compile
# the PL/pgSQL functions and fill their caches) are not measured; eventlag counts the events
# committed before MEASURE_FROM apart.
MARKER=cdc-end-$STAMP-1
LAUNCH_AT=$(awk -v n="$(now)" 'BEGIN { printf "%.3f", n + 1 }')
MEASURE_FROM=$(awk -v l="$LAUNCH_AT" -v w="$WARMUP" 'BEGIN { printf "%.3f", l + w }')
log "load: pgbench -c $CLIENTS -j $PGBENCH_JOBS${RATE_ARGS[*]:+ ${RATE_ARGS[*]}} for ${WARMUP}s warm-up + ${DURATION}s measured, $ITEMS items, mix $MIX, cancel $CANCEL_PCT%"
start_eventlag eventlag "$MARKER" u2- $((WARMUP + DURATION + CATCHUP_TIMEOUT + 60)) "$MEASURE_FROM" ||
  die "no snapshot from GET /admin/stream"

# The service's CDC metrics once a second, until the stream has caught up.
(
  end=$((SECONDS + WARMUP + DURATION + CATCHUP_TIMEOUT + 30))
  while ((SECONDS < end)) && [[ ! -f $WORK/sampler.stop ]]; do
    m=$(cdc_metrics)
    cc=$(compilers_running)
    others=$(other_pg_busy)
    printf '%s lag_seconds=%s lag_bytes=%s events_total=%s reconnects=%s compilers=%s other_pg_busy=%s load=%s\n' "$(date +%H:%M:%S)" \
      "$(metric_sum flashsale_cdc_lag_seconds "$m")" "$(metric_sum flashsale_cdc_lag_bytes "$m")" \
      "$(metric_sum flashsale_cdc_events_total "$m")" "$(metric_sum flashsale_cdc_reconnects_total "$m")" \
      "$cc" "$others" "$(cut -d' ' -f1 /proc/loadavg)"
    sleep 1
  done
) >"$WORK/metrics.log" 2>/dev/null &
SAMPLER_PID=$!
CHILD_PIDS+=("$SAMPLER_PID")
METRICS_BEFORE=$(cdc_metrics)

mapfile -t args < <(pgbench_args 2)
pgbench_rc=0
sleep_until "$LAUNCH_AT"
/usr/bin/time -f '%U %S' -o "$WORK/pgbench.time" \
  pgbench "${args[@]}" -T $((WARMUP + DURATION)) "${RATE_ARGS[@]}" -P 5 --progress-timestamp "$DB" \
  >"$WORK/pgbench.out" 2>"$WORK/pgbench.err" &
PGBENCH_PID=$!
CHILD_PIDS+=("$PGBENCH_PID")
tail -n +1 -f --pid="$PGBENCH_PID" "$WORK/pgbench.err" >&2 &
sleep_until "$MEASURE_FROM"
log "warm-up over: measuring"
cpu_snapshot c0
proc_dump >"$WORK/procs-c0.txt"
# Per command (pgbench's backends exit with it, so a second before its end).
TOP_SECS=$((DURATION > 2 ? DURATION - 1 : 1))
sleep_until "$(awk -v f="$MEASURE_FROM" -v d="$TOP_SECS" 'BEGIN { printf "%.3f", f + d }')"
proc_dump >"$WORK/procs-c1.txt"
wait "$PGBENCH_PID" || pgbench_rc=$?
LOAD_END=$(now)
forget_pid "$PGBENCH_PID"
cpu_snapshot c1
LOAD_DURING=$(cut -d' ' -f1-3 /proc/loadavg)
WINDOW=$(secs_between "$MEASURE_FROM" "$LOAD_END")
insert_marker "$MARKER"
log "load over (pgbench exit $pgbench_rc); waiting for the stream to deliver the end marker"
finish_eventlag
touch "$WORK/sampler.stop"
wait "$SAMPLER_PID" 2>/dev/null || true
forget_pid "$SAMPLER_PID"
METRICS_AFTER=$(cdc_metrics)
ALL_METRICS_AFTER=$(curl -s -m 2 "http://127.0.0.1:$PUBLIC_PORT/metrics" | grep -E '^flashsale_' | grep -vE '_bucket\{' || true)

ev_line=$(tail -1 "$WORK/eventlag.json" 2>/dev/null || true)
[[ $ev_line == '{"events":'* ]] || ev_line=""
{
  echo
  echo "## load: pgbench ${args[*]} -T $((WARMUP + DURATION)) ${RATE_ARGS[*]} -P 5 (exit $pgbench_rc); measured from $MEASURE_FROM ($(date -u -d "@$MEASURE_FROM" +%H:%M:%S.%3N) UTC) to the end, ${WINDOW}s"
  cat "$WORK/pgbench.err" "$WORK/pgbench.out"
  echo "pgbench CPU s (user sys): $(cat "$WORK/pgbench.time" 2>/dev/null)"
  echo
  echo "## flashsale-eventlag"
  cat "$WORK/eventlag.err"
  echo "eventlag json: $ev_line"
  echo
  echo "## service CDC metrics once a second"
  cat "$WORK/metrics.log"
} >>"$RESULTS"

# --- figures of the measured run ------------------------------------------------------------
tps=$(grep -oE '^tps = [0-9.]+' "$WORK/pgbench.out" | head -1 | awk '{printf "%.1f", $3}')
pgb_txns=$(grep -oE 'number of transactions actually processed: [0-9]+' "$WORK/pgbench.out" | grep -oE '[0-9]+$' || true)
pgb_lat=$(grep -oE '^latency average = [0-9.]+ ms' "$WORK/pgbench.out" | grep -oE '[0-9.]+' || true)
pgb_lag=$(grep -oE '^rate limit schedule lag: avg [0-9.]+ \(max [0-9.]+\) ms' "$WORK/pgbench.out" | sed -E 's/.*avg ([0-9.]+) \(max ([0-9.]+)\).*/\1 (max \2)/' || true)
# Orders of the run's users: all of them (for the loss check), and those of the measured window
# (created_at is the transaction's start; a cancel's time is updated_at).
# Links and payments (--mix lifecycle) follow their placement within a millisecond: counted by
# the order's created_at.
read -r placed cancelled linked confirmed w_placed w_cancelled w_linked w_confirmed <<<"$(psql_db -d "$DB" -At -F ' ' -v from="$MEASURE_FROM" <<'SQL'
SELECT count(*), count(*) FILTER (WHERE status = 'cancelled'),
       count(*) FILTER (WHERE payment_link IS NOT NULL), count(*) FILTER (WHERE status = 'confirmed'),
       count(*) FILTER (WHERE created_at >= to_timestamp(:from)),
       count(*) FILTER (WHERE status = 'cancelled' AND updated_at >= to_timestamp(:from)),
       count(*) FILTER (WHERE payment_link IS NOT NULL AND created_at >= to_timestamp(:from)),
       count(*) FILTER (WHERE status = 'confirmed' AND created_at >= to_timestamp(:from))
  FROM orders WHERE user_id LIKE 'u2-%';
SQL
)"
# The transactions pgbench drove in the window: a placement transaction carries BATCH orders.
driven_tps=$(awk -v p="$w_placed" -v b="$BATCH" -v c="$w_cancelled" -v l="$w_linked" -v f="$w_confirmed" -v s="$WINDOW" \
  'BEGIN { printf "%.1f", (s > 0 ? (p / b + c + l + f) / s : 0) }')

ev_events=$(json_field events "$ev_line") ev_rate=$(json_field events_per_s "$ev_line")
ev_txns=$(json_field transactions "$ev_line") ev_trate=$(json_field transactions_per_s "$ev_line")
p50=$(json_field p50_ms "$ev_line") p90=$(json_field p90_ms "$ev_line") p99=$(json_field p99_ms "$ev_line")
p999=$(json_field p999_ms "$ev_line") pmax=$(json_field max_ms "$ev_line") worst=$(json_field worst_second_p99_ms "$ev_line")
gap=$(json_field max_gap_ms "$ev_line") dups=$(json_field duplicates "$ev_line") ooo=$(json_field out_of_order "$ev_line")
malformed=$(json_field malformed "$ev_line") stopped_by=$(json_string stopped_by "$ev_line")
types=$(json_object types "$ev_line") utypes=$(json_object user_prefix_types "$ev_line")
ev_cpu=$(json_field eventlag_cpu_s "$ev_line")
# Every placement is one order row and one order.reserved/order.waiting event of its user,
# every cancel one order.cancelled: the events the run's users must have received.
want_order_events=$((placed + cancelled + linked + confirmed))
got_order_events=$(($(type_count "$utypes" order.reserved) + $(type_count "$utypes" order.waiting) + $(type_count "$utypes" order.cancelled) +
  $(type_count "$utypes" payment_link.ready) + $(type_count "$utypes" order.confirmed)))
missing=$((want_order_events - got_order_events))

svc_cores=$(cores $((c1_svc - c0_svc)) "$WINDOW")
pg_cores=$(cores $((c1_pg - c0_pg)) "$WINDOW")
wal_cores=$([[ $c0_walpid == "$c1_walpid" && -n $c0_walpid ]] && cores $((c1_wal - c0_wal)) "$WINDOW" || echo "?")
busy=$((c1_busy - c0_busy)) idle=$((c1_idle - c0_idle))
machine_pct=$(awk -v b="$busy" -v i="$idle" 'BEGIN { printf "%.0f", (b + i > 0 ? 100 * b / (b + i) : 0) }')
busy_cores=$(cores "$busy" "$WINDOW")
top_procs=$(top_processes "$WORK/procs-c0.txt" "$WORK/procs-c1.txt" "$TOP_SECS")
compile_samples=$(awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^compilers=/ && substr($i, 11) + 0 > 0) n++ } END { print n + 0 }' "$WORK/metrics.log")
otherpg_samples=$(awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^other_pg_busy=/ && substr($i, 15) + 0 > 0) n++ } END { print n + 0 }' "$WORK/metrics.log")
samples=$(wc -l <"$WORK/metrics.log")
read -r pgb_user pgb_sys <<<"$(cat "$WORK/pgbench.time" 2>/dev/null || echo '0 0')"
# pgbench and eventlag: their whole run (warm-up included), an upper bound of the window's share.
pgb_cores=$(awk -v u="$pgb_user" -v s="$pgb_sys" -v d=$((WARMUP + DURATION)) 'BEGIN { printf "%.2f", (u + s) / d }')
ev_cores=$(awk -v c="${ev_cpu:-0}" -v d=$((WARMUP + DURATION)) 'BEGIN { printf "%.2f", c / d }')
other_cores=$(awk -v b="$busy_cores" -v a="$pg_cores" -v c="$svc_cores" -v d="$pgb_cores" -v e="$ev_cores" \
  'BEGIN { o = b - a - c - d - e; printf "%.2f", (o > 0 ? o : 0) }')
max_lag_bytes=$(awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^lag_bytes=/) { v = substr($i, 11) + 0; if (v > m) m = v } } END { printf "%.0f", m + 0 }' "$WORK/metrics.log")
max_lag_s=$(awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^lag_seconds=/) { v = substr($i, 13) + 0; if (v > m) m = v } } END { printf "%.3f", m + 0 }' "$WORK/metrics.log")
reconnects=$(metric_sum flashsale_cdc_reconnects_total "$METRICS_AFTER")
reconnects_before=$(metric_sum flashsale_cdc_reconnects_total "$METRICS_BEFORE")

# --- backlog: decode throughput -------------------------------------------------------------
# The service is frozen (SIGSTOP) while pgbench runs unpaced, so the WAL piles up; then SIGCONT,
# and flashsale_cdc_events_total (counted by pg_wal as it decodes, before the event bus) is
# polled every 50 ms until it has grown by the backlog's events: decode throughput. A
# flashsale-eventlag connected meanwhile shows whether a WebSocket consumer gets them too.
bk_tps="" bk_txns="" bk_expected="" bk_decoded="" bk_drain="" bk_rate="" bk_ws="" bk_svc_cores="" bk_pg_cores="" bk_wal_cores=""
if ((BACKLOG > 0)) && [[ $(json_string stopped_by "$ev_line") != until_item ]]; then
  log "skipping the backlog run: the stream did not catch up after the load"
  BACKLOG=0
fi
if ((BACKLOG > 0)); then
  MARKER2=cdc-end-$STAMP-2
  log "backlog run: the service frozen (SIGSTOP) while pgbench runs unpaced for ${BACKLOG}s; then SIGCONT and time the drain"
  # eventlag measures the events committed from 0.3 s after the freeze on: backlog events only
  # (pgbench is still connecting then); earlier ones, e.g. payment links of the measured run
  # still being made, are counted apart, so its events/s is the drain's.
  FREEZE_AT=$(awk -v n="$(now)" 'BEGIN { printf "%.3f", n + 5 }')  # the snapshot may take a while
  BK_MEASURE_FROM=$(awk -v f="$FREEZE_AT" 'BEGIN { printf "%.3f", f + 0.3 }')
  if ! start_eventlag backlog "$MARKER2" u3- $((BACKLOG + CATCHUP_TIMEOUT + 60)) "$BK_MEASURE_FROM"; then
    { echo; echo "## backlog run skipped: flashsale-eventlag got no snapshot:"; cat "$WORK/backlog.err"; } >>"$RESULTS"
    BACKLOG=0
  fi
fi
if ((BACKLOG > 0)); then
  bk_ws_valid=1
  if awk -v f="$FREEZE_AT" -v n="$(now)" 'BEGIN { exit !(n > f) }'; then
    log "the snapshot came after the planned freeze time: the WebSocket drain rate is not measured"
    bk_ws_valid=0
  fi
  sleep_until "$FREEZE_AT"
  bk_total0=$(backlog_events "$(cdc_metrics)")
  kill -STOP "$SERVICE_PID"
  mapfile -t args < <(CANCEL_PCT=0 pgbench_args 3)  # placements only: their events are known
  bk_rc=0
  pgbench "${args[@]}" -T "$BACKLOG" "$DB" >"$WORK/backlog-pgbench.out" 2>&1 || bk_rc=$?
  insert_marker "$MARKER2"
  bk_tps=$(grep -oE '^tps = [0-9.]+' "$WORK/backlog-pgbench.out" | head -1 | awk '{printf "%.1f", $3}')
  bk_txns=$(grep -oE 'number of transactions actually processed: [0-9]+' "$WORK/backlog-pgbench.out" | grep -oE '[0-9]+$' || echo 0)
  bk_orders=$(psql_db -d "$DB" -At -c "SELECT count(*) FROM orders WHERE user_id LIKE 'u3-%'")
  # One order event per order, one inventory.changed per transaction, the marker's item.created.
  bk_expected=$((bk_orders + bk_txns + 1))
  cpu_snapshot b0
  drain_start=$(now)
  kill -CONT "$SERVICE_PID"
  bk_decoded=0
  poll_end=$((SECONDS + CATCHUP_TIMEOUT))
  while ((SECONDS < poll_end)); do
    bk_decoded=$(( $(backlog_events "$(cdc_metrics)") - bk_total0 ))
    ((bk_decoded >= bk_expected)) && break
    sleep 0.05
  done
  drain_end=$(now)
  cpu_snapshot b1
  bk_drain=$(secs_between "$drain_start" "$drain_end")
  bk_rate=$(awk -v n="$bk_decoded" -v s="$bk_drain" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  ((bk_decoded >= bk_expected)) || log "the backlog was not decoded within ${CATCHUP_TIMEOUT}s ($bk_decoded of $bk_expected events)"
  finish_eventlag
  bk_line=$(tail -1 "$WORK/backlog.json" 2>/dev/null || true)
  [[ $bk_line == '{"events":'* ]] || bk_line=""
  bk_types=$(json_object types "$bk_line")
  bk_ws_n=$(($(type_count "$bk_types" order.reserved) + $(type_count "$bk_types" order.waiting) + $(type_count "$bk_types" inventory.changed)))
  if ((bk_ws_valid)) && [[ -n $bk_line ]]; then
    bk_ws="$(json_field events_per_s "$bk_line") events/s ($bk_ws_n backlog events committed 0.3 s after the freeze or later, first to last frame), stopped by $(json_string stopped_by "$bk_line")"
    [[ -z $(json_string close_reason "$bk_line") ]] || bk_ws+=" ($(json_string close_reason "$bk_line"))"
  else
    bk_ws="not measured (no eventlag report, or its snapshot came after the planned freeze)"
  fi
  bk_svc_cores=$(cores $((b1_svc - b0_svc)) "$bk_drain")
  bk_pg_cores=$(cores $((b1_pg - b0_pg)) "$bk_drain")
  bk_wal_cores=$([[ $b0_walpid == "$b1_walpid" && -n $b0_walpid ]] && cores $((b1_wal - b0_wal)) "$bk_drain" || echo "?")
  {
    echo
    echo "## backlog run: service frozen, pgbench ${args[*]} -T $BACKLOG (unpaced, exit $bk_rc), then SIGCONT"
    cat "$WORK/backlog-pgbench.out"
    echo "decoded $bk_decoded of $bk_expected events in ${bk_drain}s after SIGCONT = $bk_rate events/s; CPU cores meanwhile: service $bk_svc_cores, postgres $bk_pg_cores (walsender $bk_wal_cores)"
    echo "flashsale-eventlag during the drain:"
    cat "$WORK/backlog.err"
    echo "eventlag json: $bk_line"
  } >>"$RESULTS"
fi

# --- stop the service -----------------------------------------------------------------------
log "stopping the service (SIGTERM)"
svc_rc=0
stop_service || svc_rc=$?
# Warnings and errors once the service was up (start-up notes about the config are expected).
awk '/listening: public/ { up = 1; next } up' "$WORK/service.log" |
  grep -iE 'error|fatal|panic|abort|terminate|warn|lost|too slow|reconnect' | head -20 >"$WORK/service-problems.txt" || true
{
  echo
  echo "service exit status after SIGTERM: $svc_rc"
  echo "service CDC metrics before the measured run:"; echo "$METRICS_BEFORE"
  echo "service CDC metrics after the catch-up wait:"; echo "$METRICS_AFTER"
  echo "every flashsale_* metric then (no histogram buckets):"; echo "$ALL_METRICS_AFTER"
  echo "service log lines with error/warn/lost/too slow after start-up (first 20):"; cat "$WORK/service-problems.txt"
  echo "service log (last 30 lines):"; tail -30 "$WORK/service.log"
} >>"$RESULTS"

# --- the report -----------------------------------------------------------------------------
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { if (v == "") print "FAIL (no figure)"; else if (v + 0 < t + 0) print "PASS"; else print "FAIL" }'; }
rate_verdict=$(awk -v r="$driven_tps" 'BEGIN { print (r + 0 >= 5000 ? "reached" : "NOT reached") }')
issue_verdict=$(verdict "$p99" "$TARGET_P99_MS")
spec_verdict=$(verdict "$p99" "$SPEC_P99_MS")
integrity=PASS
[[ -n $ev_line && ${dups:-1} == 0 && ${ooo:-1} == 0 && ${malformed:-1} == 0 && $missing -le 0 && $stopped_by == until_item ]] || integrity=FAIL
report=$(
  echo "plugins: ${LOADED_PLUGINS:-?} (--plugins $PLUGINS)"
  echo "CDC event lag, ${DURATION}s measured after ${WARMUP}s warm-up, $([[ -n ${RATE_ARGS[*]} ]] && echo "pgbench -R $RATE" || echo "pgbench at full speed"), $CLIENTS clients, $ITEMS items, cancel ${CANCEL_PCT}%, $BATCH order(s) per transaction"
  printf '  %-44s %s\n' "pgbench tps (whole run, warm-up included)" "${tps:--} ($pgb_txns transactions in $((WARMUP + DURATION))s; latency avg ${pgb_lat:--} ms, schedule lag avg ${pgb_lag:--} ms)"
  printf '  %-44s %s\n' "lifecycle transactions/s driven (database)" "$driven_tps (5,000/s $rate_verdict; orders: $w_placed placed + $w_cancelled cancelled + $w_linked linked + $w_confirmed paid in the ${WINDOW}s window$( ((BATCH > 1)) && echo ", $BATCH per placement"))"
  printf '  %-44s %s\n' "transactions/s on the stream" "${ev_trate:--} (${ev_txns:--} with events; includes the service's own follow-ups, e.g. payment links)"
  printf '  %-44s %s\n' "events delivered/s (first to last frame)" "${ev_rate:--} ($ev_events events; $(json_field warmup_events "$ev_line") warm-up events apart)"
  printf '  %-44s %s\n' "commit -> frame ms p50 / p90 / p99" "${p50:--} / ${p90:--} / ${p99:--}"
  printf '  %-44s %s\n' "commit -> frame ms p99.9 / max" "${p999:--} / ${pmax:--} (worst 1-s p99 ${worst:--}; longest silence ${gap:--} ms)"
  printf '  %-44s %s\n' "" "(committed_at has millisecond precision: figures are 0-1 ms above the truth)"
  printf '  %-44s %s\n' "events by type" "${types:--}"
  printf '  %-44s %s\n' "duplicates / out of order / malformed" "${dups:--} / ${ooo:--} / ${malformed:--}"
  printf '  %-44s %s\n' "order events of the run's users" "$got_order_events received, $want_order_events expected (missing: $missing; warm-up included)"
  printf '  %-44s %s\n' "stream end" "stopped by ${stopped_by:-?} (until_item = every event up to the end marker arrived)"
  printf '  %-44s %s\n' "service flashsale_cdc_* at the end" "$(tr '\n' ' ' <<<"$METRICS_AFTER" | sed 's/ $//')"
  printf '  %-44s %s\n' "sampled lag during the run (max)" "flashsale_cdc_lag_seconds $max_lag_s, flashsale_cdc_lag_bytes $max_lag_bytes; reconnects $reconnects_before -> $reconnects"
  printf '  %-44s %s\n' "CPU in the window (cores of $(nproc))" "machine ${machine_pct}% busy ($busy_cores): postgres $pg_cores (walsender $wal_cores), service $svc_cores, pgbench $pgb_cores, eventlag $ev_cores, other $other_cores"
  printf '  %-44s %s\n' "busiest commands, whole machine (cores)" "$top_procs"
  printf '  %-44s %s\n' "compilers running (samples with any / all)" "$compile_samples / $samples"
  printf '  %-44s %s\n' "other busy PostgreSQL (samples with any / all)" "$otherpg_samples / $samples (another benchmark or test suite on the machine)"
  if ((BACKLOG > 0)); then
    printf '  %-44s %s\n' "decode throughput (backlog drain)" "$bk_rate events/s ($bk_decoded of $bk_expected events in ${bk_drain}s; backlog: ${BACKLOG}s unpaced at $bk_tps tps; service $bk_svc_cores cores, postgres $bk_pg_cores, walsender $bk_wal_cores)"
    printf '  %-44s %s\n' "WebSocket consumer during the drain" "$bk_ws"
  fi
  printf '  %-44s %s\n' "load average" "before $LOAD_BEFORE; at the end of the load $LOAD_DURING"
  echo "  issue 4: >= 5,000 transactions/s: $rate_verdict (${driven_tps}/s); p99 < ${TARGET_P99_MS} ms: $issue_verdict (p99 ${p99:--} ms)"
  echo "  SPEC 8 event lag: p99 < ${SPEC_P99_MS} ms: $spec_verdict; stream integrity (no loss, duplicate, disorder): $integrity"
  [[ -s $WORK/service-problems.txt ]] && echo "  the service log has error/warning lines: see the results file"
  echo "  service exit status after SIGTERM: $svc_rc"
)
{ echo; echo "## summary"; echo "$report"; } >>"$RESULTS"
echo
echo "$report"
echo "results: $RESULTS"
[[ $integrity == PASS ]] || exit 1  # a list: no ERR trap
