#!/usr/bin/env bash
# The slow path's drain (issue 14): how fast does one `flashsale serve` work off a backlog of
# payment-link jobs? ORDERS placements as fast as flashsale-loadgen can send them (500
# connections, every request a new user, stock never runs out), each one a make_payment_link job
# (a call to the payment provider, the built-in fake on the admin listener, then the link
# written); then, from the moment the last answer came, the time until no job is due, and the
# jobs done meanwhile, with the CPU of the service and of PostgreSQL per job and the statements
# that took the most database time during the drain (pg_stat_statements), and the time from the
# burst's first request to the last link (a side that works jobs off during the burst leaves a
# smaller backlog, so the drain rate alone does not compare two sides). Then the capacity: the
# service is stopped, every link is taken back and its job queued again (the WAL of that is
# skipped), and a fresh start works off the whole backlog of ORDERS jobs with nothing else to do.
# With --ab, two builds alternate on one throwaway PostgreSQL 15, ROUNDS times each, and the
# medians are compared. With --profile, perf samples the service during the first round's
# backlog (each side), and bench/flamegraph.py draws it: an SVG per side next to the results.
#
# usage: bench/job_drain.sh [--orders N] [--rounds R] [--ab BUILD_A BUILD_B] [--profile] [--build]
# Every flag has an environment variable of the same name in upper case (ORDERS=20000 ...).
# Results in build/bench-results/job_drain-<time>.txt and on stdout. See bench/README.md.
set -Eeuo pipefail

BENCH_NAME=job_drain
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ORDERS=${ORDERS:-30000}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-500}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}  # seconds at most for the backlog to go
FORCE_BUILD=${FORCE_BUILD:-0}
PROFILE=${PROFILE:-0}
SIDES=("$BUILD")

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --orders) need_value "$@"; ORDERS=$2; shift 2 ;;
    --rounds) need_value "$@"; ROUNDS=$2; shift 2 ;;
    --ab) [[ $# -ge 3 ]] || die "--ab needs two build folders"; SIDES=("$2" "$3"); shift 3 ;;
    --build) FORCE_BUILD=1; shift ;;
    --profile) PROFILE=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
for v in ORDERS ROUNDS CONNECTIONS DRAIN_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a whole number above 0, got '${!v}'"
done
bench_build "$FORCE_BUILD" flashsale flashsale-loadgen
if ((PROFILE)); then
  command -v perf >/dev/null || die "--profile needs perf (apt-get install linux-perf)"
fi
for side in "${SIDES[@]}"; do [[ -x $side/bin/flashsale ]] || die "no $side/bin/flashsale"; done

cleanup() {
  stop_service || true
  pg_stop_cluster
  [[ -n $WORK ]] && rm -rf "$WORK"
}
trap cleanup EXIT
make_work_dir
pg_start_cluster "max_connections = 200" "wal_level = logical" "shared_buffers = 256MB" \
  "shared_preload_libraries = 'pg_stat_statements'"
mkdir -p "$RESULTS_DIR"
RESULTS=$RESULTS_DIR/job_drain-$(date +%Y%m%d-%H%M%S).txt

jobs_state() {  # "due done": jobs due now (queued or running), and done ones
  psql_db -d "$DB" -At -F ' ' -c "SELECT count(*) FILTER (WHERE state IN ('queued', 'running') AND run_at <= now()),
    count(*) FILTER (WHERE state = 'done') FROM jobs"
}
jobs_left() {  # 1 while a job is due (queued or running), else 0: two index probes, not a count
  psql_db -d "$DB" -At -c "SELECT (EXISTS (SELECT 1 FROM jobs WHERE state = 'queued' AND run_at <= now())
    OR EXISTS (SELECT 1 FROM jobs WHERE state = 'running'))::int"
}

# Payment-link jobs this service process has done (its counter: polling costs the database nothing).
links_done() {
  curl -sf "http://127.0.0.1:$PUBLIC_PORT/metrics" |
    awk '/^flashsale_jobs_total\{kind="make_payment_link",outcome="done"\}/ { n = $2 } END { printf "%d", n }'
}

# The statements with the most database time since the last reset, per job: "TITLE" JOBS.
top_statements() {
  {
    echo "$1"
    psql_db -d "$DB" -At -F ' | ' -c "SELECT round(total_exec_time::numeric * 1000 / $2, 1) || ' µs',
        round(calls::numeric / $2, 3) || ' calls', left(regexp_replace(query, '\s+', ' ', 'g'), 110)
      FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY total_exec_time DESC LIMIT 6"
  } >>"$WORK/statements.txt"
}

# With the service stopped: every link taken back, its job queued again as new (done jobs
# gone, vacuumed: as after a burst nobody worked off), and the slot moved past these changes,
# so the next start has nothing to do but the backlog.
requeue_links() {
  psql_db -d "$DB" -q -c "UPDATE orders SET payment_link = NULL WHERE payment_link IS NOT NULL" \
    -c "WITH old AS (DELETE FROM jobs WHERE kind = 'make_payment_link' RETURNING payload, unique_key)
        INSERT INTO jobs (kind, payload, unique_key) SELECT 'make_payment_link', payload, unique_key FROM old" \
    -c "DELETE FROM jobs WHERE state = 'done'" -c "VACUUM ANALYZE jobs" -c "VACUUM ANALYZE orders" \
    -c "SELECT pg_replication_slot_advance(slot_name, pg_current_wal_lsn()) FROM pg_replication_slots
        WHERE database = current_database()" >/dev/null
}

# run SIDE ROUND: one burst and its drain, then the backlog; appends "rate svc_us pg_us jobs
# seconds last_link_s" to R[side] and "rate svc_us pg_us jobs seconds" to K[side].
declare -A R K
run() {
  local side=$1 round=$2 due done0 done1 tp t0 t1 s0 s1 p0 p1 jobs secs
  DB=drain_${round}_$((++RUN))
  psql_db -d postgres -c "CREATE DATABASE $DB" >/dev/null
  psql_db -d "$DB" -c "CREATE EXTENSION pg_stat_statements" >/dev/null
  FLASHSALE=${SIDES[$side]}/bin/flashsale
  start_service "$DB" "$WORK/service-$DB.log"
  curl -sf -X POST "http://127.0.0.1:$ADMIN_PORT/admin/items" -H 'Content-Type: application/json' \
    -d "{\"id\":\"drain\",\"name\":\"Drain\",\"total_stock\":$((ORDERS * 2)),\"payment_window_s\":3600}" >/dev/null
  log "[${side}] round $round: $ORDERS placements (${SIDES[$side]})"
  tp=$(now)
  "$BUILD/bin/flashsale-loadgen" --port "$PUBLIC_PORT" --item drain --requests "$ORDERS" \
    --connections "$CONNECTIONS" --timeout 30 >"$WORK/loadgen.json" 2>"$WORK/loadgen.err" ||
    { cat "$WORK/loadgen.err" >&2; die "loadgen failed"; }
  t0=$(now)
  s0=$(proc_ticks "$SERVICE_PID")
  p0=$(postgres_ticks)
  read -r due done0 <<<"$(jobs_state)"
  psql_db -d "$DB" -c "SELECT pg_stat_statements_reset()" >/dev/null
  log "[${side}] placed ($(json_field throughput_rps "$(cat "$WORK/loadgen.json")") req/s); $due jobs due, $done0 done"
  while ((due > 0)); do
    (($(awk -v a="$t0" -v b="$(now)" 'BEGIN { print (b - a > '"$DRAIN_TIMEOUT"') }'))) &&
      die "[${side}] still $due jobs due after ${DRAIN_TIMEOUT}s"
    sleep 0.2
    due=$(jobs_left)
  done
  t1=$(now)
  s1=$(proc_ticks "$SERVICE_PID")
  p1=$(postgres_ticks)
  read -r _ done1 <<<"$(jobs_state)"
  jobs=$((done1 - done0))
  secs=$(secs_between "$t0" "$t1")
  R[$side]+="$(awk -v j="$jobs" -v s="$secs" -v sv=$((s1 - s0)) -v pg=$((p1 - p0)) -v hz="$CLK_TCK" \
    -v all="$(secs_between "$tp" "$t1")" \
    'BEGIN { if (j == 0) printf "- - - 0 %.2f %.2f", s, all  # it kept up: nothing left after the burst
             else printf "%.0f %.0f %.0f %d %.2f %.2f", j / s, sv / hz / j * 1e6, pg / hz / j * 1e6, j, s, all }');"
  log "[${side}] drained $jobs jobs in ${secs}s"
  ((jobs == 0)) || top_statements "[$(side_name "$side")] round $round: the statements with the most database time during the drain, per job" "$jobs"

  stop_service || true
  requeue_links
  read -r due _ <<<"$(jobs_state)"
  psql_db -d "$DB" -c "SELECT pg_stat_statements_reset()" >/dev/null
  t0=$(now)
  p0=$(postgres_ticks)
  start_service "$DB" "$WORK/service-$DB-backlog.log"
  local perf_pid="" perf_data=$WORK/perf-$side.data
  if ((PROFILE && round == 1)); then
    perf record -q -F 199 --call-graph dwarf,8192 -p "$SERVICE_PID" -o "$perf_data" 2>"$WORK/perf-$side.err" &
    perf_pid=$!
  fi
  while (($(links_done) < due)); do
    (($(awk -v a="$t0" -v b="$(now)" 'BEGIN { print (b - a > '"$DRAIN_TIMEOUT"') }'))) &&
      die "[${side}] the backlog still had jobs due after ${DRAIN_TIMEOUT}s"
    sleep 0.2
  done
  t1=$(now)
  s1=$(proc_ticks "$SERVICE_PID")  # from the process's start: its start-up is in it
  p1=$(postgres_ticks)
  secs=$(secs_between "$t0" "$t1")
  K[$side]+="$(awk -v j="$due" -v s="$secs" -v sv="$s1" -v pg=$((p1 - p0)) -v hz="$CLK_TCK" \
    'BEGIN { printf "%.0f %.0f %.0f %d %.2f", j / s, sv / hz / j * 1e6, pg / hz / j * 1e6, j, s }');"
  log "[${side}] a fresh start worked off a backlog of $due jobs in ${secs}s"
  if [[ -n $perf_pid ]]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" || true
    log "[${side}] drawing the profile (perf script takes a minute or two)"
    perf script -i "$perf_data" 2>/dev/null |
      "$ROOT/bench/flamegraph.py" --svg "${RESULTS%.txt}-$(side_name "$side").svg" \
        --title "the service working off a backlog of payment-link jobs: $(side_name "$side") ${SIDES[$side]}" \
        >"$WORK/profile-$side.txt"
    { echo "[$(side_name "$side")] the profile of round 1's backlog (perf attached: its rate is lower)"; cat "$WORK/profile-$side.txt"; } >>"$WORK/statements.txt"
  fi
  top_statements "[$(side_name "$side")] round $round: the statements with the most database time during the backlog, per job" "$due"
  stop_service || true
  psql_db -d postgres -c "DROP DATABASE $DB" >/dev/null
}

side_name() { [[ $1 == 0 ]] && echo A || echo B; }

RUN=0
for round in $(seq 1 "$ROUNDS"); do
  for side in "${!SIDES[@]}"; do run "$side" "$round"; done
done

{
  results_header
  echo "## job drain: $ORDERS placements by $CONNECTIONS connections, then the backlog of jobs worked off"
  printf '%-8s %12s %14s %14s %14s   %s\n' side "jobs/s" "service µs/job" "pg µs/job" "last link s" \
    "rounds (jobs/s svc_us pg_us jobs s last_link_s)"
  for side in "${!SIDES[@]}"; do
    IFS=';' read -r -a rounds <<<"${R[$side]}"
    rates="" svcs="" pgs="" lasts=""
    for r in "${rounds[@]}"; do
      read -r rate svc pg _ _ last <<<"$r"
      rates+=" $rate" svcs+=" $svc" pgs+=" $pg" lasts+=" $last"
    done
    printf '%-8s %12s %14s %14s %14s   %s\n' "$(side_name "$side")" "$(median "$rates")" \
      "$(median "$svcs")" "$(median "$pgs")" "$(median "$lasts")" "${R[$side]}"
  done
  echo "## the backlog: $ORDERS jobs queued, worked off by a fresh start (from its start, start-up included)"
  printf '%-8s %12s %14s %14s   %s\n' side "jobs/s" "service µs/job" "pg µs/job" "rounds (jobs/s svc_us pg_us jobs s)"
  for side in "${!SIDES[@]}"; do
    IFS=';' read -r -a rounds <<<"${K[$side]}"
    rates="" svcs="" pgs=""
    for r in "${rounds[@]}"; do
      read -r rate svc pg _ _ <<<"$r"
      rates+=" $rate" svcs+=" $svc" pgs+=" $pg"
    done
    printf '%-8s %12s %14s %14s   %s\n' "$(side_name "$side")" "$(median "$rates")" "$(median "$svcs")" \
      "$(median "$pgs")" "${K[$side]}"
  done
  for side in "${!SIDES[@]}"; do echo "$(side_name "$side"): ${SIDES[$side]}"; done
  cat "$WORK/statements.txt"
} | tee -a "$RESULTS"
log "results in $RESULTS"
