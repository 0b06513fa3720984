#!/usr/bin/env bash
# Hot-item benchmark (SPEC §8): the full stack (HTTP -> commit -> answer) against one item with
# many connections, then a naive one-transaction-per-request baseline with pgbench on the same
# throwaway PostgreSQL 15 cluster, side by side, plus an oversell check. See bench/README.md.
#
# usage: bench/hot_item.sh [--duration S] [--connections N] [--rate R] [--stock K]
#                          [--warmup S] [--sellout-duration S] [--sellout-stock K]
#                          [--loadgen-threads T] [--pgbench-jobs J]
#                          [--skip-service] [--skip-baseline] [--build] [--keep]
# Every flag has an environment variable of the same name in upper case (DURATION=30 ...;
# --build is FORCE_BUILD=1).
set -euo pipefail

BENCH_NAME=hot_item
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT, BUILD, PG_BIN, RESULTS_DIR, helpers

DURATION=${DURATION:-20}              # seconds of measured load, service and baseline alike
CONNECTIONS=${CONNECTIONS:-500}       # HTTP connections, and pgbench clients
RATE=${RATE:-0}                       # 0: closed loop; else open loop at RATE requests/s
STOCK=${STOCK:-10000000}              # large: the run never sells out (see README)
WARMUP=${WARMUP:-3}                   # seconds on a separate item before the measured run
SELLOUT_DURATION=${SELLOUT_DURATION:-5} # after it: a short sell-out run on a third item (0: skip)
SELLOUT_STOCK=${SELLOUT_STOCK:-1000}
LOADGEN_THREADS=${LOADGEN_THREADS:-2}
PGBENCH_JOBS=${PGBENCH_JOBS:-2}
PGBENCH_MODE=${PGBENCH_MODE:-prepared} # pgbench -M: prepared is the baseline's best case
ITEM=${ITEM:-hot}
SKIP_SERVICE=${SKIP_SERVICE:-0}
SKIP_BASELINE=${SKIP_BASELINE:-0}
FORCE_BUILD=${FORCE_BUILD:-0}
KEEP=${KEEP:-0}                       # keep the temp folder (cluster, logs) for a post-mortem
LOADGEN_ARGS=${LOADGEN_ARGS:-}        # extra flashsale-loadgen flags, e.g. "--users 1000"

usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) need_value "$@"; DURATION=$2; shift 2 ;;
    --connections) need_value "$@"; CONNECTIONS=$2; shift 2 ;;
    --rate) need_value "$@"; RATE=$2; shift 2 ;;
    --stock) need_value "$@"; STOCK=$2; shift 2 ;;
    --warmup) need_value "$@"; WARMUP=$2; shift 2 ;;
    --sellout-duration) need_value "$@"; SELLOUT_DURATION=$2; shift 2 ;;
    --sellout-stock) need_value "$@"; SELLOUT_STOCK=$2; shift 2 ;;
    --loadgen-threads) need_value "$@"; LOADGEN_THREADS=$2; shift 2 ;;
    --pgbench-jobs) need_value "$@"; PGBENCH_JOBS=$2; shift 2 ;;
    --skip-service) SKIP_SERVICE=1; shift ;;
    --skip-baseline) SKIP_BASELINE=1; shift ;;
    --build) FORCE_BUILD=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
for v in DURATION CONNECTIONS STOCK WARMUP SELLOUT_DURATION SELLOUT_STOCK LOADGEN_THREADS PGBENCH_JOBS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[[ $RATE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "RATE must be a number, got '$RATE'"
((DURATION > 0 && CONNECTIONS > 0)) || die "DURATION and CONNECTIONS must be > 0"
# pgbench opens one backend per client; leave room under max_connections for psql.
[[ $SKIP_BASELINE == 1 ]] || ((CONNECTIONS <= 650)) ||
  die "CONNECTIONS must be <= 650 for the baseline (max_connections is 700); or --skip-baseline"

# --- build ----------------------------------------------------------------------------------
LOADGEN=$BUILD/bin/flashsale-loadgen
bench_build "$FORCE_BUILD" flashsale flashsale-loadgen  # and every plugin
for tool in initdb pg_ctl; do [[ -x $PG_BIN/$tool ]] || die "missing $PG_BIN/$tool (postgresql-15)"; done
for tool in psql pgbench curl; do command -v "$tool" >/dev/null || die "missing $tool"; done

# --- throwaway cluster ----------------------------------------------------------------------
make_work_dir
CHILD_PID=""

cleanup() {
  local rc=$?
  set +e
  [[ -z $CHILD_PID ]] || stop_pid "$CHILD_PID" 3
  [[ -z $SERVICE_PID ]] || stop_pid "$SERVICE_PID" 10
  pg_stop_cluster
  if [[ $KEEP == 1 ]]; then
    echo "hot_item: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_start_cluster "max_connections = 700" "wal_level = logical" "shared_buffers = 256MB"

# Runs a long step in the background, its stderr shown live and kept in a file: bash defers
# a trapped INT/TERM until a foreground command ends, but `wait` returns at once, and
# cleanup stops the step. usage: run_live STDOUT_FILE STDERR_FILE command...
run_live() {
  local out=$1 err=$2 rc=0 tail_pid
  shift 2
  "$@" >"$out" 2>"$err" &
  CHILD_PID=$!
  tail -n +1 -f --pid="$CHILD_PID" "$err" >&2 &
  tail_pid=$!
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=""
  wait "$tail_pid" 2>/dev/null || true
  return "$rc"
}

DB=flashsale
psql_db -d postgres -c "CREATE DATABASE $DB" >/dev/null
log "PostgreSQL 15 on 127.0.0.1:$PG_PORT, database $DB"
PG_SETTINGS=$(psql_db -d "$DB" -At -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'wal_level', 'max_connections', 'shared_buffers', 'full_page_writes')")

# --- results --------------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$RESULTS_DIR/hot_item-$STAMP.txt
{
  results_header
  echo "params: duration=${DURATION}s connections=$CONNECTIONS rate=$RATE stock=$STOCK warmup=${WARMUP}s sellout=${SELLOUT_DURATION}s/stock $SELLOUT_STOCK loadgen_threads=$LOADGEN_THREADS pgbench_jobs=$PGBENCH_JOBS pgbench_mode=$PGBENCH_MODE"
  echo "postgres: $("$PG_BIN/postgres" --version); $PG_SETTINGS (shared_buffers in 8 kB pages)"
  echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
} >"$RESULTS"

svc_tput="" svc_p50="" svc_p99="" svc_p999="" svc_line=""
base_tput="" base_p50="" base_p99="" base_p999=""
oversell="SKIPPED"
sellout_line=""

# --- phase 1: the service -------------------------------------------------------------------
run_service_phase() {
  log "starting flashsale serve"
  start_service "$DB" "$WORK/service.log"
  log "service ready: public :$PUBLIC_PORT, admin :$ADMIN_PORT"

  local common=(--port "$PUBLIC_PORT" --admin-port "$ADMIN_PORT" --connections "$CONNECTIONS"
                --threads "$LOADGEN_THREADS" --rate "$RATE" --timeout 10 --drain 5)
  local extra=()
  read -r -a extra <<<"$LOADGEN_ARGS"
  common+=("${extra[@]}")
  if ((WARMUP > 0)); then
    log "warm-up: ${WARMUP}s on item $ITEM-warmup (not measured)"
    run_live "$WORK/warmup.json" "$WORK/warmup.err" "$LOADGEN" "${common[@]}" \
      --create-item "$ITEM-warmup" --stock "$STOCK" --duration "$WARMUP" --user-prefix warmup- ||
      log "warm-up failed (continuing)"
  fi
  psql_db -d "$DB" -c CHECKPOINT >/dev/null

  log "measured run: ${DURATION}s, $CONNECTIONS connections, rate $RATE (0 = closed loop), item $ITEM, stock $STOCK"
  local rc=0
  run_live "$WORK/loadgen.json" "$WORK/loadgen.err" "$LOADGEN" "${common[@]}" \
    --create-item "$ITEM" --stock "$STOCK" --duration "$DURATION" --progress || rc=$?
  svc_line=$(tail -1 "$WORK/loadgen.json")
  {
    echo
    echo "## service: flashsale-loadgen ${common[*]} --create-item $ITEM --stock $STOCK --duration $DURATION"
    cat "$WORK/loadgen.err"
    echo "loadgen json: $svc_line"
  } >>"$RESULTS"
  if [[ $svc_line != '{"requests":'* ]]; then
    log "load generator produced no result (exit $rc)"
    svc_line=""
  else
    svc_tput=$(json_field throughput_rps "$svc_line")
    svc_p50=$(json_field p50_ms "$svc_line")
    svc_p99=$(json_field p99_ms "$svc_line")
    svc_p999=$(json_field p999_ms "$svc_line")
  fi

  if ((SELLOUT_DURATION > 0)); then
    log "sell-out run: ${SELLOUT_DURATION}s on item $ITEM-sellout, stock $SELLOUT_STOCK (not in the side-by-side)"
    run_live "$WORK/sellout.json" "$WORK/sellout.err" "$LOADGEN" "${common[@]}" \
      --create-item "$ITEM-sellout" --stock "$SELLOUT_STOCK" --duration "$SELLOUT_DURATION" \
      --user-prefix sellout- || true
    sellout_line=$(tail -1 "$WORK/sellout.json")
    { echo; echo "## sell-out run (item $ITEM-sellout, stock $SELLOUT_STOCK)"; cat "$WORK/sellout.err"; echo "loadgen json: $sellout_line"; } >>"$RESULTS"
  fi

  log "stopping the service (SIGTERM)"
  local svc_rc=0
  stop_service || svc_rc=$?
  log "service exited with status $svc_rc"
  echo "service exit status after SIGTERM: $svc_rc" >>"$RESULTS"
  grep -iE 'error|fatal|panic|abort|terminate' "$WORK/service.log" | head -20 >"$WORK/service-errors.txt" || true
  if [[ -s $WORK/service-errors.txt ]]; then
    log "the service log has error lines (first ones below; full log in the results file)"
    cat "$WORK/service-errors.txt" >&2
  fi
  { echo "service log (last 40 lines):"; tail -40 "$WORK/service.log"; } >>"$RESULTS"

  check_oversell
}

# --- oversell check (SPEC §2 invariants 1, 2, 3, 5) -----------------------------------------
check_oversell() {
  local item row total available held waiting dup_leases ok=1
  for item in "$ITEM" "$ITEM-warmup" "$ITEM-sellout"; do
    row=$(psql_db -d "$DB" -At -F ' ' -v item="$item" <<'SQL'
SELECT i.total_stock, i.available,
       (SELECT count(*) FROM reservations r WHERE r.item_id = i.id AND r.status IN ('active', 'consumed')),
       (SELECT count(*) FROM orders o WHERE o.item_id = i.id AND o.status = 'waiting'),
       (SELECT count(*) FROM (SELECT order_id FROM reservations r
                               WHERE r.item_id = i.id AND r.status = 'active'
                               GROUP BY order_id HAVING count(*) > 1) d)
  FROM items i WHERE i.id = :'item';
SQL
    ) || { log "oversell check query failed for $item"; ok=0; continue; }
    if [[ -z $row ]]; then
      [[ $item == "$ITEM" ]] && { log "item $item not found"; ok=0; }
      continue
    fi
    read -r total available held waiting dup_leases <<<"$row"
    local verdict=PASS
    if ((available < 0 || available + held != total || (waiting > 0 && available > 0) || dup_leases > 0)); then
      verdict=FAIL
      ok=0
    fi
    # On the sell-out item, no more "reserved" answers than units held by reservations.
    if [[ $item == "$ITEM-sellout" && -n $sellout_line ]]; then
      local answered_reserved
      answered_reserved=$(grep -oE '"reserved":[0-9]+' <<<"$sellout_line" | head -1 | cut -d: -f2)
      if ((answered_reserved > held)); then verdict=FAIL; ok=0; fi
      log "sell-out: $answered_reserved answers said reserved, $held units held, available $available$( ((available == 0)) || echo ' (NOT sold out)')"
    fi
    local msg="oversell check $item: total_stock=$total available=$available active+consumed=$held (sum $((available + held))) waiting=$waiting orders_with_2+_leases=$dup_leases -> $verdict"
    log "$msg"
    echo "$msg" >>"$RESULTS"
  done
  if ((ok)); then oversell=PASS; else oversell=FAIL; fi
}

# --- phase 2: the naive baseline ------------------------------------------------------------
run_baseline_phase() {
  log "naive baseline: pgbench -c $CONNECTIONS -j $PGBENCH_JOBS -T $DURATION -M $PGBENCH_MODE"
  psql_db -d "$DB" -v stock="$STOCK" -f "$ROOT/bench/baselines/naive_schema.sql" >/dev/null
  psql_db -d "$DB" -c CHECKPOINT >/dev/null
  mkdir -p "$WORK/pgbench"
  local rc=0 throttle=()
  # Open loop: pgbench -R schedules transactions the same way and measures latency from the
  # scheduled start, like the load generator.
  [[ $RATE == 0 || $RATE == 0.0 ]] || throttle=(-R "$RATE")
  run_live "$WORK/pgbench.out" "$WORK/pgbench.err" \
    pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -f "$ROOT/bench/baselines/naive_reserve.sql" \
    -c "$CONNECTIONS" -j "$PGBENCH_JOBS" -T "$DURATION" -M "$PGBENCH_MODE" "${throttle[@]}" \
    -P 5 --progress-timestamp -r --log --log-prefix="$WORK/pgbench/naive" "$DB" || rc=$?
  {
    echo
    echo "## baseline: pgbench -n -f bench/baselines/naive_reserve.sql -c $CONNECTIONS -j $PGBENCH_JOBS -T $DURATION -M $PGBENCH_MODE${throttle[*]:+ ${throttle[*]}} -P 5 --progress-timestamp -r --log (exit $rc)"
    cat "$WORK/pgbench.err" "$WORK/pgbench.out"
  } >>"$RESULTS"
  ((rc == 0)) || { log "pgbench failed (exit $rc)"; cat "$WORK/pgbench.out" >&2; return 0; }

  base_tput=$(grep -oE '^tps = [0-9.]+' "$WORK/pgbench.out" | head -1 | awk '{printf "%.1f", $3}')
  # Per-transaction log lines: client_id transaction_no latency_us script_no epoch epoch_us.
  local pct
  pct=$(cat "$WORK"/pgbench/naive.* | awk '{print $3}' | sort -n | awk '
    { v[NR] = $1 }
    function at(p,   i) { i = int(p * NR); if (i < p * NR) i++; if (i < 1) i = 1; return v[i] / 1000 }
    END { if (NR == 0) { print "- - - 0"; exit } printf "%.3f %.3f %.3f %d\n", at(0.50), at(0.99), at(0.999), NR }')
  read -r base_p50 base_p99 base_p999 base_n <<<"$pct"
  local granted
  granted=$(psql_db -d "$DB" -At -c "SELECT count(*) FROM naive_orders")
  echo "baseline percentiles from $base_n logged transactions: p50=${base_p50}ms p99=${base_p99}ms p99.9=${base_p999}ms; naive_orders rows: $granted" >>"$RESULTS"
}

[[ $SKIP_SERVICE == 1 ]] || run_service_phase
[[ $SKIP_BASELINE == 1 ]] || run_baseline_phase

# --- side by side ---------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else if (a / b >= 10) printf "%.1fx", a / b; else printf "%.3gx", a / b }'; }
num() { [[ -n $1 ]] && echo "$1" || echo "-"; }
table=$(
  printf '%-34s %14s %10s %10s %10s\n' "hot item, ${DURATION}s, $CONNECTIONS conns" "throughput/s" "p50 ms" "p99 ms" "p99.9 ms"
  printf '%-34s %14s %10s %10s %10s\n' "flashsale (HTTP->commit->answer)" "$(num "$svc_tput")" "$(num "$svc_p50")" "$(num "$svc_p99")" "$(num "$svc_p999")"
  printf '%-34s %14s %10s %10s %10s\n' "naive UPDATE per request (pgbench)" "$(num "$base_tput")" "$(num "$base_p50")" "$(num "$base_p99")" "$(num "$base_p999")"
  printf '%-34s %14s %10s %10s %10s\n' "ratio flashsale/naive" "$(ratio "$svc_tput" "$base_tput")" "$(ratio "$svc_p50" "$base_p50")" "$(ratio "$svc_p99" "$base_p99")" "$(ratio "$svc_p999" "$base_p999")"
  echo "oversell check: $oversell; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [[ -n $sellout_line ]]; then
    echo "sell-out run (stock $SELLOUT_STOCK, ${SELLOUT_DURATION}s): $(json_field throughput_rps "$sellout_line") req/s, p50 $(json_field p50_ms "$sellout_line") ms, p99 $(json_field p99_ms "$sellout_line") ms, p99.9 $(json_field p999_ms "$sellout_line") ms, outcomes $(grep -oE '"outcomes":\{[^}]*\}' <<<"$sellout_line" | cut -d: -f2-)"
  fi
  if [[ -n $svc_line ]]; then
    echo "service outcomes: $(grep -oE '"outcomes":\{[^}]*\}' <<<"$svc_line" | cut -d: -f2-), transport errors: $(json_field errors "$svc_line"), load generator used $(json_field loadgen_cpu_s "$svc_line") CPU-s in the ${DURATION}s run"
    awk -v s="$svc_tput" -v b="$base_tput" -v p="$svc_p99" 'BEGIN {
      if (b != "" && b + 0 > 0) printf "SPEC 8 targets: throughput >= 10x naive: %s (%.1fx); ", (s / b >= 10 ? "met" : "NOT met"), s / b
      printf "p99 < 200 ms: %s (goal 50 ms)\n", (p + 0 < 200 ? "met" : "NOT met") }'
  fi
)
{ echo; echo "## side by side"; echo "$table"; } >>"$RESULTS"
echo
echo "$table"
echo "results: $RESULTS"
[[ $oversell != FAIL ]]
