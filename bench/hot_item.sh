#!/usr/bin/env bash
# Hot-item benchmark (SPEC §8, issue 14): the full stack (HTTP -> commit -> answer) against one
# item with many connections, and in the same run, on the same machine, its anchors: the naive
# one-transaction-per-request baseline (pgbench) at the same client count and at its best one,
# Redis 7 Lua check-and-decrement with appendfsync always, and nginx answering a static 202 to
# the same load generator; CPU per order from /proc; a sell-out run; an oversell check.
# With --ab: two builds of the service alternately (A B A B ...) on one cluster, per round and
# median, with B/A ratios. See bench/README.md.
#
# usage: bench/hot_item.sh [--duration S] [--connections N] [--rate R] [--stock K]
#                          [--warmup S] [--settle S] [--sellout-duration S] [--sellout-stock K]
#                          [--loadgen-threads T] [--pgbench-jobs J]
#                          [--naive-clients LIST] [--sweep-duration S]
#                          [--skip-service] [--skip-baseline] [--skip-redis] [--skip-nginx]
#                          [--build] [--keep]
#        bench/hot_item.sh --ab DIR_A DIR_B [--rounds N] [--env-a 'VAR=V ...'] [--env-b 'VAR=V ...']
#                          [the load flags above] [--keep]
# DIR_A, DIR_B: build folders, each with bin/flashsale and lib/flashsale/*.so (used as they
# are: nothing is built); the same folder twice with --env-a/--env-b compares two settings,
# e.g. --ab build build --env-b FLASHSALE_LOG_ACCESS=true (the words are added to that side's
# service environment). Every flag has an environment variable of the same name in upper case
# (DURATION=30 ...; --build is FORCE_BUILD=1, --ab is AB_A and AB_B; NAIVE_CLIENTS="" skips the
# sweep). Bench-only dependencies, their rows skipped with a note when absent:
# redis-server and redis-tools (apt-get install -y redis-server), nginx (apt-get install -y nginx).
set -euo pipefail

BENCH_NAME=hot_item
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT, BUILD, PG_BIN, RESULTS_DIR, helpers

DURATION=${DURATION:-20}              # seconds of measured load: service, baseline, Redis, nginx
CONNECTIONS=${CONNECTIONS:-500}       # HTTP connections, pgbench clients, redis-benchmark clients
RATE=${RATE:-0}                       # 0: closed loop; else open loop at RATE requests/s
STOCK=${STOCK:-10000000}              # large: the run never sells out (see README)
WARMUP=${WARMUP:-3}                   # seconds on a separate item before the measured run
SETTLE=${SETTLE:-30}                  # before a measured window: at most this long for due jobs to drain
SELLOUT_DURATION=${SELLOUT_DURATION:-5} # after it: a short sell-out run on a third item (0: skip)
SELLOUT_STOCK=${SELLOUT_STOCK:-1000}
LOADGEN_THREADS=${LOADGEN_THREADS:-2}
PGBENCH_JOBS=${PGBENCH_JOBS:-2}
PGBENCH_MODE=${PGBENCH_MODE:-prepared} # pgbench -M: prepared is the baseline's best case
NAIVE_CLIENTS=${NAIVE_CLIENTS-4 8 16 32 64} # the naive baseline's sweep for its best concurrency
SWEEP_DURATION=${SWEEP_DURATION:-5}   # seconds of each sweep run
ITEM=${ITEM:-hot}
SKIP_SERVICE=${SKIP_SERVICE:-0}
SKIP_BASELINE=${SKIP_BASELINE:-0}
SKIP_REDIS=${SKIP_REDIS:-0}
SKIP_NGINX=${SKIP_NGINX:-0}
AB_A=${AB_A:-}                        # --ab DIR_A DIR_B
AB_B=${AB_B:-}
ROUNDS=${ROUNDS:-3}                   # A/B rounds of each build
ENV_A=${ENV_A:-}                      # --env-a: NAME=VALUE words for A's service
ENV_B=${ENV_B:-}
FORCE_BUILD=${FORCE_BUILD:-0}
KEEP=${KEEP:-0}                       # keep the temp folder (cluster, logs) for a post-mortem
LOADGEN_ARGS=${LOADGEN_ARGS:-}        # extra flashsale-loadgen flags, e.g. "--users 1000"

usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) need_value "$@"; DURATION=$2; shift 2 ;;
    --connections) need_value "$@"; CONNECTIONS=$2; shift 2 ;;
    --rate) need_value "$@"; RATE=$2; shift 2 ;;
    --stock) need_value "$@"; STOCK=$2; shift 2 ;;
    --warmup) need_value "$@"; WARMUP=$2; shift 2 ;;
    --settle) need_value "$@"; SETTLE=$2; shift 2 ;;
    --sellout-duration) need_value "$@"; SELLOUT_DURATION=$2; shift 2 ;;
    --sellout-stock) need_value "$@"; SELLOUT_STOCK=$2; shift 2 ;;
    --loadgen-threads) need_value "$@"; LOADGEN_THREADS=$2; shift 2 ;;
    --pgbench-jobs) need_value "$@"; PGBENCH_JOBS=$2; shift 2 ;;
    --naive-clients) need_value "$@"; NAIVE_CLIENTS=$2; shift 2 ;;
    --sweep-duration) need_value "$@"; SWEEP_DURATION=$2; shift 2 ;;
    --ab)
      [[ $# -ge 3 && -n $2 && -n $3 ]] || { usage >&2; die "--ab needs two build folders"; }
      AB_A=$2; AB_B=$3; shift 3 ;;
    --rounds) need_value "$@"; ROUNDS=$2; shift 2 ;;
    --env-a) need_value "$@"; ENV_A=$2; shift 2 ;;
    --env-b) need_value "$@"; ENV_B=$2; shift 2 ;;
    --skip-service) SKIP_SERVICE=1; shift ;;
    --skip-baseline) SKIP_BASELINE=1; shift ;;
    --skip-redis) SKIP_REDIS=1; shift ;;
    --skip-nginx) SKIP_NGINX=1; shift ;;
    --build) FORCE_BUILD=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
for v in DURATION CONNECTIONS STOCK WARMUP SETTLE SELLOUT_DURATION SELLOUT_STOCK LOADGEN_THREADS PGBENCH_JOBS SWEEP_DURATION ROUNDS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[[ $RATE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "RATE must be a number, got '$RATE'"
((DURATION > 0 && CONNECTIONS > 0)) || die "DURATION and CONNECTIONS must be > 0"
NAIVE_CLIENTS=${NAIVE_CLIENTS//,/ }
for c in $NAIVE_CLIENTS; do
  if ! [[ $c =~ ^[0-9]+$ ]] || ((c < 1 || c > 650)); then die "NAIVE_CLIENTS: each count must be 1..650, got '$c'"; fi
done
[[ -z $NAIVE_CLIENTS ]] || ((SWEEP_DURATION > 0)) || die "SWEEP_DURATION must be > 0"
AB=0
if [[ -n $AB_A || -n $AB_B ]]; then
  AB=1
  [[ -n $AB_A && -n $AB_B ]] || die "--ab needs two build folders (AB_A and AB_B)"
  ((ROUNDS > 0)) || die "ROUNDS must be > 0"
  [[ $FORCE_BUILD != 1 ]] || die "--build does not go with --ab: the two folders are used as they are"
  [[ $SKIP_SERVICE != 1 ]] || die "--skip-service does not go with --ab"
  for d in "$AB_A" "$AB_B"; do
    [[ -x $d/bin/flashsale ]] || die "--ab: no $d/bin/flashsale"
    compgen -G "$d/lib/flashsale/*.so" >/dev/null || die "--ab: no plugins in $d/lib/flashsale"
  done
  AB_A=$(cd "$AB_A" && pwd)
  AB_B=$(cd "$AB_B" && pwd)
  for word in $ENV_A $ENV_B; do
    [[ $word =~ ^FLASHSALE_[A-Z0-9_]+= ]] || die "--env-a/--env-b: '$word' is not FLASHSALE_NAME=VALUE"
  done
elif [[ -n $ENV_A || -n $ENV_B ]]; then
  die "--env-a and --env-b go with --ab"
fi
SERVICE_ENV=()                        # words added to the service's environment (A/B sides)
# pgbench opens one backend per client; leave room under max_connections for psql.
[[ $SKIP_BASELINE == 1 || $AB == 1 ]] || ((CONNECTIONS <= 650)) ||
  die "CONNECTIONS must be <= 650 for the baseline (max_connections is 700); or --skip-baseline"

# --- build ----------------------------------------------------------------------------------
if ((AB)); then
  LOADGEN=""
  for d in "$BUILD" "$AB_A" "$AB_B"; do
    [[ -x $d/bin/flashsale-loadgen ]] && { LOADGEN=$d/bin/flashsale-loadgen; break; }
  done
  [[ -n $LOADGEN ]] || die "no flashsale-loadgen in $BUILD/bin, $AB_A/bin or $AB_B/bin (build the target flashsale-loadgen)"
else
  LOADGEN=$BUILD/bin/flashsale-loadgen
  bench_build "$FORCE_BUILD" flashsale flashsale-loadgen  # and every plugin
fi
for tool in initdb pg_ctl; do [[ -x $PG_BIN/$tool ]] || die "missing $PG_BIN/$tool (postgresql-15)"; done
for tool in psql curl; do command -v "$tool" >/dev/null || die "missing $tool"; done
((AB)) || [[ $SKIP_BASELINE == 1 ]] || command -v pgbench >/dev/null || die "missing pgbench (postgresql-client-15)"

# --- throwaway cluster and helpers ----------------------------------------------------------
make_work_dir
CHILD_PID=""
REDIS_PID=""
NGINX_PID=""

cleanup() {
  local rc=$?
  set +e
  [[ -z $CHILD_PID ]] || stop_pid "$CHILD_PID" 3
  [[ -z $SERVICE_PID ]] || stop_pid "$SERVICE_PID" 10
  [[ -z $REDIS_PID ]] || stop_pid "$REDIS_PID" 5
  [[ -z $NGINX_PID ]] || stop_pid "$NGINX_PID" 5
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

# µs of CPU per unit: us_per TICKS UNITS (empty when there are no units)
us_per() { awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { if (n + 0 > 0 && t != "") printf "%.1f", t / hz * 1e6 / n }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "") printf "%.1f", a + b }'; }

declare -A R=()   # results: R[TAG.field]
r() { echo "${R[$1]:-}"; }

psql_db -d postgres -c "CREATE DATABASE flashsale" >/dev/null
DB=flashsale
log "PostgreSQL 15 on 127.0.0.1:$PG_PORT"
PG_SETTINGS=$(psql_db -d "$DB" -At -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'wal_level', 'max_connections', 'shared_buffers', 'full_page_writes')")

# --- results --------------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
if ((AB)); then RESULTS=$RESULTS_DIR/hot_item-ab-$STAMP.txt; else RESULTS=$RESULTS_DIR/hot_item-$STAMP.txt; fi
{
  results_header
  echo "params: duration=${DURATION}s connections=$CONNECTIONS rate=$RATE stock=$STOCK warmup=${WARMUP}s settle<=${SETTLE}s sellout=${SELLOUT_DURATION}s/stock $SELLOUT_STOCK loadgen_threads=$LOADGEN_THREADS pgbench_jobs=$PGBENCH_JOBS pgbench_mode=$PGBENCH_MODE naive_clients='$NAIVE_CLIENTS' sweep=${SWEEP_DURATION}s loadgen_args='$LOADGEN_ARGS'"
  ((AB)) && echo "A/B: A=$AB_A${ENV_A:+ ($ENV_A)} B=$AB_B${ENV_B:+ ($ENV_B)} rounds=$ROUNDS each; loadgen $LOADGEN"
  echo "postgres: $("$PG_BIN/postgres" --version); $PG_SETTINGS (shared_buffers in 8 kB pages)"
  echo "CPU accounting: /proc utime+stime, CLK_TCK=$CLK_TCK; load generators and clients not counted"
  echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
} >"$RESULTS"

# --- the service ----------------------------------------------------------------------------
# Due jobs (the slow path's backlog: payment links ...) and finished ones, "- -" without a jobs table.
jobs_state() {
  psql_db -d "$DB" -At -F ' ' -c "SELECT count(*) FILTER (WHERE state IN ('queued', 'running') AND run_at <= now()),
    count(*) FILTER (WHERE state = 'done') FROM jobs" 2>/dev/null || echo "- -"
}
# The WAL's insert position now; wal_per LSN0 LSN1 UNITS: the WAL bytes between them per unit,
# what the walsender reads and decodes (every record, whatever table it changes).
wal_lsn() { psql_db -d "$DB" -At -c "SELECT pg_current_wal_insert_lsn()"; }
wal_per() { psql_db -d "$DB" -At -c "SELECT round(pg_wal_lsn_diff('$2', '$1') / nullif($3, 0))"; }
# settle: waits at most SETTLE s for the slow path to drain, so that a window does not start
# with the previous run's backlog (its CPU would be charged to this run's orders).
settle() {
  local due deadline=$((SECONDS + SETTLE)) said=0
  ((SETTLE > 0)) || return 0
  while :; do
    read -r due _ <<<"$(jobs_state)"
    [[ $due == 0 || $due == - ]] && return 0
    ((said)) || { log "waiting (at most ${SETTLE}s) for the slow path: $due due jobs"; said=1; }
    if ((SECONDS >= deadline)); then
      log "still $due due jobs after ${SETTLE}s: measuring anyway"
      return 0
    fi
    sleep 0.5
  done
}

# fs_window TAG COUNT LOADGEN_ARGS...: one load generator run against the service, the service's
# and PostgreSQL's CPU sampled right before it starts and right after it exits. COUNT: reserved
# (divide by "reserved" answers) or requests (by all answers). Sets R[TAG.*].
fs_window() {
  local tag=$1 count=$2 rc=0 line s0 s1 p0 p1 t0 t1 j0 j1 d0 d1 w0 w1 orders svc pg secs
  shift 2
  read -r d0 j0 <<<"$(jobs_state)"
  w0=$(wal_lsn)
  postgres_role_ticks >"$WORK/$tag.roles0"
  t0=$(now); s0=$(proc_ticks "$SERVICE_PID"); p0=$(postgres_ticks)
  run_live "$WORK/$tag.json" "$WORK/$tag.err" "$LOADGEN" "${LG_COMMON[@]}" "$@" || rc=$?
  s1=$(proc_ticks "$SERVICE_PID"); p1=$(postgres_ticks); t1=$(now)
  postgres_role_ticks >"$WORK/$tag.roles1"
  w1=$(wal_lsn)
  read -r d1 j1 <<<"$(jobs_state)"
  line=$(tail -1 "$WORK/$tag.json")
  {
    echo
    echo "## $tag: flashsale-loadgen ${LG_COMMON[*]} $*"
    cat "$WORK/$tag.err"
    echo "loadgen json: $line"
  } >>"$RESULTS"
  if [[ $line != '{"requests":'* ]]; then
    log "load generator produced no result (exit $rc)"
    return 0
  fi
  R[$tag.line]=$line
  R[$tag.tput]=$(json_field throughput_rps "$line")
  R[$tag.p50]=$(json_field p50_ms "$line")
  R[$tag.p99]=$(json_field p99_ms "$line")
  R[$tag.p999]=$(json_field p999_ms "$line")
  R[$tag.reserved]=$(type_count "$(json_object outcomes "$line")" reserved)
  R[$tag.requests]=$(json_field requests "$line")
  if [[ $count == reserved ]]; then orders=${R[$tag.reserved]}; else orders=${R[$tag.requests]}; fi
  R[$tag.n]=$orders
  secs=$(secs_between "$t0" "$t1")
  if kill -0 "$SERVICE_PID" 2>/dev/null; then
    svc=$((s1 - s0)); pg=$((p1 - p0))
    R[$tag.svc_us]=$(us_per "$svc" "$orders")
    R[$tag.pg_us]=$(us_per "$pg" "$orders")
    R[$tag.tot_us]=$(add "${R[$tag.svc_us]}" "${R[$tag.pg_us]}")
    R[$tag.cores]="service $(cores "$svc" "$secs") cores, PostgreSQL $(cores "$pg" "$secs") cores over ${secs}s"
    R[$tag.pg_roles]="PostgreSQL µs per order by session: $(role_split "$WORK/$tag.roles0" "$WORK/$tag.roles1" "$pg" "$orders"); WAL bytes per order: $(wal_per "$w0" "$w1" "$orders")"
  fi
  R[$tag.jobs]="jobs due at the start $d0, done in the window $(awk -v a="$j0" -v b="$j1" 'BEGIN { if (a == "-" || b == "-") print "-"; else print b - a }'), due at the end $d1"
  R[$tag.load]=$(cut -d' ' -f1 /proc/loadavg)
  {
    echo "$tag: the window's WAL by record type (pg_waldump --stats=record; what the walsender read):"
    "$PG_BIN/pg_waldump" -p "$PGDATA/pg_wal" -s "$w0" -e "$w1" --stats=record 2>&1 || true
  } >>"$RESULTS"
  echo "$tag: $orders orders ($count); ${R[$tag.cores]:-service gone}; µs/order service ${R[$tag.svc_us]:--} PostgreSQL ${R[$tag.pg_us]:--}; ${R[$tag.jobs]}; load average $(cut -d' ' -f1-3 /proc/loadavg); compilers running: $(compilers_running)${R[$tag.pg_roles]:+; ${R[$tag.pg_roles]}}" >>"$RESULTS"
}

# fs_measure TAG DB: `flashsale serve` ($FLASHSALE) on database DB: warm-up, the measured run
# (R[TAG.*]), the sell-out run (R[TAG_so.*]), SIGTERM, the oversell check (R[TAG.oversell]).
fs_measure() {
  local tag=$1
  DB=$2
  log "[$tag] starting $FLASHSALE serve on database $DB"
  start_service "$DB" "$WORK/service-$tag.log" "${SERVICE_ENV[@]}"
  log "[$tag] service ready: public :$PUBLIC_PORT, admin :$ADMIN_PORT"

  LG_COMMON=(--port "$PUBLIC_PORT" --admin-port "$ADMIN_PORT" --connections "$CONNECTIONS"
             --threads "$LOADGEN_THREADS" --rate "$RATE" --timeout 10 --drain 5)
  local extra=()
  read -r -a extra <<<"$LOADGEN_ARGS"
  LG_COMMON+=("${extra[@]}")
  if ((WARMUP > 0)); then
    log "[$tag] warm-up: ${WARMUP}s on item $ITEM-warmup (not measured)"
    run_live "$WORK/$tag-warmup.json" "$WORK/$tag-warmup.err" "$LOADGEN" "${LG_COMMON[@]}" \
      --create-item "$ITEM-warmup" --stock "$STOCK" --duration "$WARMUP" --user-prefix warmup- ||
      log "warm-up failed (continuing)"
  fi
  settle
  psql_db -d "$DB" -c CHECKPOINT >/dev/null

  log "[$tag] measured run: ${DURATION}s, $CONNECTIONS connections, rate $RATE (0 = closed loop), item $ITEM, stock $STOCK"
  fs_window "$tag" reserved --create-item "$ITEM" --stock "$STOCK" --duration "$DURATION" --progress

  if ((SELLOUT_DURATION > 0)); then
    settle
    log "[$tag] sell-out run: ${SELLOUT_DURATION}s on item $ITEM-sellout, stock $SELLOUT_STOCK"
    fs_window "${tag}_so" requests --create-item "$ITEM-sellout" --stock "$SELLOUT_STOCK" \
      --duration "$SELLOUT_DURATION" --user-prefix sellout-
  fi

  log "[$tag] stopping the service (SIGTERM)"
  local svc_rc=0
  stop_service || svc_rc=$?
  log "[$tag] service exited with status $svc_rc"
  echo "$tag: service exit status after SIGTERM: $svc_rc" >>"$RESULTS"
  grep -iE 'error|fatal|panic|abort|terminate' "$WORK/service-$tag.log" | head -20 >"$WORK/service-errors.txt" || true
  if [[ -s $WORK/service-errors.txt ]]; then
    log "the service log has error lines (first ones below; full log in the results file)"
    cat "$WORK/service-errors.txt" >&2
  fi
  { echo "$tag: service log (last 40 lines):"; tail -40 "$WORK/service-$tag.log"; } >>"$RESULTS"

  check_oversell "$tag"
  R[$tag.oversell]=$oversell
  # The event source's slot would keep the WAL of every later run.
  [[ $KEEP == 1 ]] || psql_db -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
    WHERE database = '$DB' AND NOT active" >/dev/null 2>&1 || log "could not drop the replication slot of $DB"
}

# --- oversell check (SPEC §2 invariants 1, 2, 3, 5) -----------------------------------------
oversell="SKIPPED"
check_oversell() {
  local tag=$1 item row total available held waiting dup_leases ok=1 sellout_line
  sellout_line=$(r "${tag}_so.line")
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
      log "[$tag] sell-out: $answered_reserved answers said reserved, $held units held, available $available$( ((available == 0)) || echo ' (NOT sold out)')"
    fi
    local msg="[$tag] oversell check $item: total_stock=$total available=$available active+consumed=$held (sum $((available + held))) waiting=$waiting orders_with_2+_leases=$dup_leases -> $verdict"
    log "$msg"
    echo "$msg" >>"$RESULTS"
  done
  if ((ok)); then oversell=PASS; else oversell=FAIL; fi
}

# --- the naive baseline ---------------------------------------------------------------------
# run_pgbench TAG CLIENTS SECONDS [THROTTLE...]: the naive transaction with pgbench on a fresh
# naive schema. pgbench's -T clock runs while its clients connect (500 backends take 7 s on an
# idle 2-core machine, and a -T shorter than that processes nothing), so pgbench gets -T SECONDS
# plus an allowance, and the measured window is SECONDS long from the moment all clients are
# connected: PostgreSQL's CPU is sampled at both ends (backend start-up is not the baseline's
# cost per order), throughput and percentiles come from the transactions the log shows ending in
# the window. Sets R[TAG.*].
run_pgbench() {
  local tag=$1 clients=$2 secs=$3 jobs rc=0 t0 t1 p0 p1 deadline allow
  shift 3
  jobs=$((PGBENCH_JOBS < clients ? PGBENCH_JOBS : clients))
  ((jobs > 0)) || jobs=1
  allow=$((2 + clients / 25))
  log "[$tag] naive baseline: pgbench -c $clients -j $jobs -T $((secs + allow)) -M $PGBENCH_MODE${*:+ $*}; measured: ${secs}s once all clients are connected"
  psql_db -d "$DB" -v stock="$STOCK" -f "$ROOT/bench/baselines/naive_schema.sql" >/dev/null
  psql_db -d "$DB" -c CHECKPOINT >/dev/null
  mkdir -p "$WORK/pgbench-$tag"
  pgbench -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -f "$ROOT/bench/baselines/naive_reserve.sql" \
    -c "$clients" -j "$jobs" -T "$((secs + allow))" -M "$PGBENCH_MODE" "$@" \
    -P 5 --progress-timestamp -r --log --log-prefix="$WORK/pgbench-$tag/naive" "$DB" \
    >"$WORK/pgbench-$tag.out" 2>"$WORK/pgbench-$tag.err" &
  CHILD_PID=$!
  deadline=$((SECONDS + 60))
  until (($(psql_db -d "$DB" -At -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'" 2>/dev/null || echo 0) >= clients)); do
    kill -0 "$CHILD_PID" 2>/dev/null || break
    ((SECONDS < deadline)) || { log "[$tag] not all pgbench clients connected within 60 s; measuring anyway"; break; }
    sleep 0.1
  done
  sleep 0.2  # the last thread passes its start barrier
  t0=$(now); p0=$(postgres_ticks)
  local end
  end=$(awk -v t="$t0" -v s="$secs" 'BEGIN { printf "%.3f", t + s }')
  while kill -0 "$CHILD_PID" 2>/dev/null && awk -v e="$end" -v n="$(now)" 'BEGIN { exit !(n < e) }'; do sleep 0.1; done
  p1=$(postgres_ticks); t1=$(now)
  kill -0 "$CHILD_PID" 2>/dev/null || log "[$tag] pgbench ended before the window did: the window is $(secs_between "$t0" "$t1")s"
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=""
  {
    echo
    echo "## $tag: pgbench -n -f bench/baselines/naive_reserve.sql -c $clients -j $jobs -T $((secs + allow)) -M $PGBENCH_MODE${*:+ $*} -P 5 --progress-timestamp -r --log (exit $rc)"
    cat "$WORK/pgbench-$tag.err" "$WORK/pgbench-$tag.out"
  } >>"$RESULTS"
  ((rc == 0)) || { log "pgbench failed (exit $rc)"; cat "$WORK/pgbench-$tag.err" >&2; return 0; }

  # Per-transaction log lines: client_id transaction_no latency_us script_no epoch epoch_us
  # (the end of the transaction).
  local stats n p50 p99 p999 win
  win=$(secs_between "$t0" "$t1")
  stats=$(cat "$WORK/pgbench-$tag"/naive.* | awk -v a="$t0" -v b="$t1" '{ t = $5 + $6 / 1e6; if (t >= a && t <= b) print $3 }' |
    sort -n | awk -v w="$win" '
    { v[NR] = $1 }
    function at(p,   i) { i = int(p * NR); if (i < p * NR) i++; if (i < 1) i = 1; return v[i] / 1000 }
    END { if (NR == 0) { print "0 - - - -"; exit } printf "%d %.1f %.3f %.3f %.3f\n", NR, NR / w, at(0.50), at(0.99), at(0.999) }')
  read -r n R["$tag.tput"] p50 p99 p999 <<<"$stats"
  rm -rf "$WORK/pgbench-$tag"  # the logs of a 500-client run are large
  if ((n == 0)); then
    R[$tag.tput]=""
    log "[$tag] no transaction ended in the measured window"
    echo "$tag: no transaction ended in the ${win}s window" >>"$RESULTS"
    return 0
  fi
  R[$tag.p50]=$p50; R[$tag.p99]=$p99; R[$tag.p999]=$p999
  R[$tag.n]=$n
  R[$tag.pg_us]=$(us_per "$((p1 - p0))" "$n")
  R[$tag.tot_us]=${R[$tag.pg_us]}
  R[$tag.clients]=$clients
  echo "$tag: $n transactions ended in the ${win}s window from all clients connected: $(r "$tag.tput")/s, p50=${p50}ms p99=${p99}ms p99.9=${p999}ms; PostgreSQL $(cores "$((p1 - p0))" "$win") cores -> $(r "$tag.pg_us") µs/transaction" >>"$RESULTS"
}

run_baseline_phase() {
  local throttle=() c best="" sweep=""
  # Open loop: pgbench -R schedules transactions the same way and measures latency from the
  # scheduled start, like the load generator.
  [[ $RATE == 0 || $RATE == 0.0 ]] || throttle=(-R "$RATE")
  run_pgbench naive "$CONNECTIONS" "$DURATION" "${throttle[@]}"
  # Its best concurrency: closed loop, short runs, the highest tps wins.
  for c in $NAIVE_CLIENTS; do
    run_pgbench "naive_c$c" "$c" "$SWEEP_DURATION"
    sweep+="${sweep:+, }$c clients $(r "naive_c$c.tput")"
    if [[ -n $(r "naive_c$c.tput") ]] &&
       { [[ -z $best ]] || awk -v a="$(r "naive_c$c.tput")" -v b="$(r "naive_c$best.tput")" 'BEGIN { exit !(a > b) }'; }; then
      best=$c
    fi
  done
  R[sweep]=$sweep
  R[best]=$best
  # The best at either end of the list: the real best may lie beyond it.
  read -r -a c <<<"$NAIVE_CLIENTS"
  if [[ -n $best && ${#c[@]} -gt 1 && ($best == "${c[0]}" || $best == "${c[-1]}") ]]; then
    R[sweep]+=" (the best is at an end of the list: try NAIVE_CLIENTS beyond it)"
  fi
  [[ -z $sweep ]] || echo "naive sweep (${SWEEP_DURATION}s each, tps): $sweep; best: ${best:-none}" >>"$RESULTS"
}

# --- Redis 7: Lua check-and-decrement, appendfsync always ------------------------------------
run_redis_phase() {
  local tool missing="" port sha n_cal rps n t0 t1 c0 c1 before left csv rc=0 i
  for tool in redis-server redis-cli redis-benchmark; do command -v "$tool" >/dev/null || missing+=" $tool"; done
  if [[ -n $missing ]]; then
    R[redis.note]="skipped:$missing not installed (bench-only: apt-get install -y redis-server)"
    log "Redis row ${R[redis.note]}"
    return 0
  fi
  free_port; port=$FREE_PORT
  mkdir -p "$WORK/redis"
  R[redis.version]=$(redis-server --version | grep -oE 'v=[0-9.]+' | cut -d= -f2)
  log "Redis ${R[redis.version]} on 127.0.0.1:$port: appendonly yes, appendfsync always, no RDB snapshots"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes \
    --appendfsync always --save '' --daemonize no --logfile "$WORK/redis/redis.log" &
  REDIS_PID=$!
  for i in $(seq 1 100); do
    [[ $(redis-cli -p "$port" PING 2>/dev/null) == PONG ]] && break
    if ! kill -0 "$REDIS_PID" 2>/dev/null || ((i == 100)); then
      R[redis.note]="redis-server did not start (log: $(tail -1 "$WORK/redis/redis.log" 2>/dev/null))"
      log "${R[redis.note]}"; stop_pid "$REDIS_PID" 3 || true; REDIS_PID=""; return 0
    fi
    sleep 0.1
  done
  sha=$(redis-cli -p "$port" SCRIPT LOAD "$(cat "$ROOT/bench/baselines/redis_reserve.lua")")
  redis-cli -p "$port" SET "stock:$ITEM" "$STOCK" >/dev/null
  # Every call a new user (__rand_int__: 12 random digits per call; a repeat answers -1).
  local cmd=(redis-benchmark -h 127.0.0.1 -p "$port" -c "$CONNECTIONS" -r 1000000000 --csv)
  local script=(EVALSHA "$sha" 2 "stock:$ITEM" "user:$ITEM:__rand_int__")
  # redis-benchmark runs N requests, not S seconds: a short calibration run sets N.
  n_cal=$((CONNECTIONS * 40))
  "${cmd[@]}" -n "$n_cal" "${script[@]}" >"$WORK/redis-cal.csv" 2>&1 || rc=$?
  rps=$(tail -1 "$WORK/redis-cal.csv" | awk -F'","' '{ printf "%.0f", $2 }')
  n=$(awk -v r="$rps" -v d="$DURATION" -v m="$n_cal" 'BEGIN { n = int(r * d); print (n > m ? n : m) }')
  log "Redis: calibration $rps ops/s; measured run: $n EVALSHA calls, $CONNECTIONS clients"
  before=$(redis-cli -p "$port" GET "stock:$ITEM")
  t0=$(now); c0=$(tree_ticks "$REDIS_PID")
  run_live "$WORK/redis.csv" "$WORK/redis.err" "${cmd[@]}" -n "$n" "${script[@]}" || rc=$?
  c1=$(tree_ticks "$REDIS_PID"); t1=$(now)
  left=$(redis-cli -p "$port" GET "stock:$ITEM")
  csv=$(tail -1 "$WORK/redis.csv")
  {
    echo
    echo "## redis: ${cmd[*]} -n $n ${script[*]} (exit $rc); redis-server ${R[redis.version]} appendonly yes appendfsync always save ''"
    echo "calibration: $(tail -1 "$WORK/redis-cal.csv")"
    cat "$WORK/redis.err" "$WORK/redis.csv"
  } >>"$RESULTS"
  if [[ $rc != 0 || $csv != '"EVALSHA'* ]]; then
    R[redis.note]="redis-benchmark failed (exit $rc)"
    log "${R[redis.note]}"; cat "$WORK/redis.err" "$WORK/redis.csv" >&2
  else
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    R[redis.tput]=$(awk -F'","' '{ printf "%.1f", $2 }' <<<"$csv")
    R[redis.p50]=$(awk -F'","' '{ print $5 }' <<<"$csv")
    R[redis.p99]=$(awk -F'","' '{ print $7 }' <<<"$csv")
    R[redis.n]=$n
    R[redis.svc_us]=$(us_per "$((c1 - c0))" "$n")
    R[redis.tot_us]=${R[redis.svc_us]}
    R[redis.granted]=$((before - left))
    echo "redis: $n calls, about ${R[redis.granted]} units granted; redis-server $(cores "$((c1 - c0))" "$(secs_between "$t0" "$t1")") cores -> ${R[redis.svc_us]} µs/call" >>"$RESULTS"
  fi
  stop_pid "$REDIS_PID" 5 || true
  REDIS_PID=""
}

# --- nginx: a static 202 to the same load generator (the HTTP ceiling) ----------------------
run_nginx_phase() {
  local port dir cpus user_line="" code i t0 t1 c0 c1 line rc=0
  if ! command -v nginx >/dev/null; then
    R[nginx.note]="skipped: nginx not installed (bench-only: apt-get install -y nginx)"
    log "nginx row ${R[nginx.note]}"
    return 0
  fi
  free_port; port=$FREE_PORT
  dir=$WORK/nginx
  mkdir -p "$dir"
  cpus=$(nproc)
  # As root the workers would run as "nobody" with group "nobody", which Debian does not have.
  [[ $(id -u) != 0 ]] || user_line="user nobody $(id -gn nobody 2>/dev/null || echo nogroup);"
  cat >"$dir/nginx.conf" <<EOF
# bench/hot_item.sh: the static-HTTP ceiling, a throwaway nginx answering every request 202.
$user_line
daemon off;
master_process on;
worker_processes $cpus;
worker_rlimit_nofile $((4 * CONNECTIONS + 1024));
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections $((2 * CONNECTIONS + 512)); }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location / {
      default_type application/json;
      return 202 '{"status":"reserved"}';
    }
  }
}
EOF
  log "nginx $(nginx -v 2>&1 | grep -oE '[0-9.]+$') on 127.0.0.1:$port: $cpus workers, return 202 '{\"status\":\"reserved\"}'"
  nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" >"$dir/stdout.log" 2>&1 &
  NGINX_PID=$!
  for i in $(seq 1 100); do
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' -X POST "http://127.0.0.1:$port/v1/items/$ITEM/orders" || true)
    [[ $code == 202 ]] && break
    if ! kill -0 "$NGINX_PID" 2>/dev/null || ((i == 100)); then
      R[nginx.note]="nginx did not start: $(tail -1 "$dir/error.log" 2>/dev/null)"
      log "${R[nginx.note]}"; stop_pid "$NGINX_PID" 3 || true; NGINX_PID=""; return 0
    fi
    sleep 0.1
  done
  local common=(--port "$port" --connections "$CONNECTIONS" --threads "$LOADGEN_THREADS" --rate "$RATE"
                --timeout 10 --drain 5)
  local extra=()
  read -r -a extra <<<"$LOADGEN_ARGS"
  common+=("${extra[@]}")
  log "nginx: ${DURATION}s, the load generator with the service run's flags"
  t0=$(now); c0=$(tree_ticks "$NGINX_PID")
  run_live "$WORK/nginx.json" "$WORK/nginx.err" "$LOADGEN" "${common[@]}" --item "$ITEM" --duration "$DURATION" --progress || rc=$?
  c1=$(tree_ticks "$NGINX_PID"); t1=$(now)
  line=$(tail -1 "$WORK/nginx.json")
  {
    echo
    echo "## nginx: flashsale-loadgen ${common[*]} --item $ITEM --duration $DURATION (exit $rc)"
    cat "$WORK/nginx.err"
    echo "loadgen json: $line"
  } >>"$RESULTS"
  if [[ $line != '{"requests":'* ]]; then
    R[nginx.note]="the load generator produced no result (exit $rc)"
    log "nginx: ${R[nginx.note]}"
  else
    R[nginx.line]=$line
    R[nginx.tput]=$(json_field throughput_rps "$line")
    R[nginx.p50]=$(json_field p50_ms "$line")
    R[nginx.p99]=$(json_field p99_ms "$line")
    R[nginx.p999]=$(json_field p999_ms "$line")
    R[nginx.n]=$(json_field requests "$line")
    R[nginx.reserved]=$(type_count "$(json_object outcomes "$line")" reserved)
    R[nginx.svc_us]=$(us_per "$((c1 - c0))" "${R[nginx.n]}")
    R[nginx.tot_us]=${R[nginx.svc_us]}
    echo "nginx: ${R[nginx.n]} answers (${R[nginx.reserved]} counted as reserved); nginx $(cores "$((c1 - c0))" "$(secs_between "$t0" "$t1")") cores -> ${R[nginx.svc_us]} µs/answer" >>"$RESULTS"
  fi
  stop_pid "$NGINX_PID" 5 || true
  NGINX_PID=""
}

# --- formatting -----------------------------------------------------------------------------
fmt() {  # fmt DECIMALS VALUE: "-" when empty
  [[ -n $2 ]] && awk -v d="$1" -v v="$2" 'BEGIN { printf "%.*f", d, v }' || printf -- '-'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else if (a / b >= 10) printf "%.1fx", a / b; else printf "%.3gx", a / b }'; }
num() { [[ -n $1 ]] && echo "$1" || echo "-"; }
ROW_FMT='%-40s %9s %8s %8s %9s %9s %8s %9s %9s %9s\n'
row() {  # row LABEL TAG [noratio]
  local t=$2 tr="-" cr="-"
  if [[ ${3:-} != noratio && $t != fs ]]; then
    tr=$(ratio "$(r fs.tput)" "$(r "$t.tput")")
    cr=$(ratio "$(r fs.tot_us)" "$(r "$t.tot_us")")
  fi
  # shellcheck disable=SC2059  # the format is ROW_FMT
  printf "$ROW_FMT" "$1" "$(fmt 0 "$(r "$t.tput")")" "$(fmt 2 "$(r "$t.p50")")" "$(fmt 2 "$(r "$t.p99")")" \
    "$(fmt 2 "$(r "$t.p999")")" "$(fmt 1 "$(r "$t.svc_us")")" "$(fmt 1 "$(r "$t.pg_us")")" \
    "$(fmt 1 "$(r "$t.tot_us")")" "$tr" "$cr"
}

# --- A/B mode -------------------------------------------------------------------------------
if ((AB)); then
  AB_FAIL=0
  for i in $(seq 1 "$ROUNDS"); do
    for side in A B; do
      if [[ $side == A ]]; then
        FLASHSALE=$AB_A/bin/flashsale
        read -ra SERVICE_ENV <<<"$ENV_A"
      else
        FLASHSALE=$AB_B/bin/flashsale
        read -ra SERVICE_ENV <<<"$ENV_B"
      fi
      db="ab_${i}_${side,,}"
      psql_db -d postgres -c "CREATE DATABASE $db" >/dev/null
      log "=== round $i, build $side ($FLASHSALE), database $db"
      echo "=== round $i, build $side: $FLASHSALE, database $db" >>"$RESULTS"
      fs_measure "$i$side" "$db"
      [[ $oversell == PASS ]] || AB_FAIL=1
      # Each round's figures as soon as it ends (a later round may fail: a build being replaced).
      t=$i$side
      msg="round $i $side: $(fmt 0 "$(r "$t.tput")") req/s, p50 $(fmt 2 "$(r "$t.p50")") ms, p99 $(fmt 2 "$(r "$t.p99")") ms, µs/order service $(fmt 1 "$(r "$t.svc_us")") PostgreSQL $(fmt 1 "$(r "$t.pg_us")") total $(fmt 1 "$(r "$t.tot_us")"); sell-out $(fmt 0 "$(r "${t}_so.tput")") req/s, p99 $(fmt 2 "$(r "${t}_so.p99")") ms, $(fmt 1 "$(r "${t}_so.tot_us")") µs/answer; oversell $oversell"
      log "$msg"
      echo "$msg" >>"$RESULTS"
      if [[ $KEEP != 1 ]]; then
        psql_db -d postgres -c "DROP DATABASE $db" >/dev/null 2>&1 || log "could not drop $db"
      fi
    done
  done

  for side in A B; do
    for f in tput p50 p99 svc_us pg_us tot_us; do
      vals=()
      for i in $(seq 1 "$ROUNDS"); do vals+=("$(r "$i$side.$f")"); done
      R[med$side.$f]=$(median "${vals[@]}")
      vals=()
      for i in $(seq 1 "$ROUNDS"); do vals+=("$(r "$i${side}_so.$f")"); done
      R[med${side}_so.$f]=$(median "${vals[@]}")
    done
  done
  AB_FMT='%-9s %9s %8s %8s %8s %8s %9s | %9s %8s %9s | %-8s %5s\n'
  table=$(
    echo "A: $AB_A${ENV_A:+ with $ENV_A}"
    echo "B: $AB_B${ENV_B:+ with $ENV_B}"
    echo "hot item A/B: ${DURATION}s, $CONNECTIONS connections, rate $RATE (0 = closed loop), stock $STOCK; sell-out: ${SELLOUT_DURATION}s, stock $SELLOUT_STOCK; order A B A B ..., a fresh database each"
    echo "CPU in µs per order: svc = the flashsale process, PG = every PostgreSQL process (backends, walsender, background workers)"
    # shellcheck disable=SC2059
    printf "$AB_FMT" "round" "req/s" "p50 ms" "p99 ms" "svc us" "PG us" "total us" "so req/s" "so p99" "so tot us" "oversell" "load1"
    for i in $(seq 1 "$ROUNDS"); do
      for side in A B; do
        t=$i$side
        # shellcheck disable=SC2059
        printf "$AB_FMT" "$i $side" "$(fmt 0 "$(r "$t.tput")")" "$(fmt 2 "$(r "$t.p50")")" "$(fmt 2 "$(r "$t.p99")")" \
          "$(fmt 1 "$(r "$t.svc_us")")" "$(fmt 1 "$(r "$t.pg_us")")" "$(fmt 1 "$(r "$t.tot_us")")" \
          "$(fmt 0 "$(r "${t}_so.tput")")" "$(fmt 2 "$(r "${t}_so.p99")")" "$(fmt 1 "$(r "${t}_so.tot_us")")" \
          "$(num "$(r "$t.oversell")")" "$(num "$(r "$t.load")")"
      done
    done
    for side in A B; do
      t=med$side
      # shellcheck disable=SC2059
      printf "$AB_FMT" "median $side" "$(fmt 0 "$(r "$t.tput")")" "$(fmt 2 "$(r "$t.p50")")" "$(fmt 2 "$(r "$t.p99")")" \
        "$(fmt 1 "$(r "$t.svc_us")")" "$(fmt 1 "$(r "$t.pg_us")")" "$(fmt 1 "$(r "$t.tot_us")")" \
        "$(fmt 0 "$(r "${t}_so.tput")")" "$(fmt 2 "$(r "${t}_so.p99")")" "$(fmt 1 "$(r "${t}_so.tot_us")")" "" ""
    done
    br() { awk -v a="$(r "medA$1")" -v b="$(r "medB$1")" 'BEGIN { if (a == "" || b == "" || a + 0 == 0) print "-"; else printf "%.3f", b / a }'; }
    # shellcheck disable=SC2059
    printf "$AB_FMT" "B/A" "$(br .tput)" "$(br .p50)" "$(br .p99)" "$(br .svc_us)" "$(br .pg_us)" "$(br .tot_us)" \
      "$(br _so.tput)" "$(br _so.p99)" "$(br _so.tot_us)" "" ""
    for i in $(seq 1 "$ROUNDS"); do
      for side in A B; do
        echo "$i $side: ${R[$i$side.cores]:-no CPU figures}; ${R[$i$side.jobs]:-}"
        [[ -z ${R[$i$side.pg_roles]:-} ]] || echo "$i $side: ${R[$i$side.pg_roles]}"
      done
    done
    echo "oversell check: $( ((AB_FAIL)) && echo FAIL || echo PASS); load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
  )
  { echo; echo "## A/B"; echo "$table"; } >>"$RESULTS"
  echo
  echo "$table"
  echo "results: $RESULTS"
  ((AB_FAIL == 0))
  exit
fi

# --- one run: the service and its anchors ---------------------------------------------------
if [[ $SKIP_SERVICE != 1 ]]; then
  fs_measure fs "$DB"
fi
[[ $SKIP_BASELINE == 1 ]] || run_baseline_phase
[[ $SKIP_REDIS == 1 ]] || run_redis_phase
[[ $SKIP_NGINX == 1 ]] || run_nginx_phase

table=$(
  # shellcheck disable=SC2059
  printf "$ROW_FMT" "hot item, ${DURATION}s, $CONNECTIONS conns, one run" "per s" "p50 ms" "p99 ms" "p99.9 ms" "svc us" "PG us" "total us" "fs/row" "fs/row"
  # shellcheck disable=SC2059
  printf "$ROW_FMT" "" "" "" "" "" "per order" "per order" "per order" "per s" "us/order"
  if [[ $SKIP_SERVICE == 1 ]]; then
    echo "flashsale: skipped (--skip-service)"
  else
    row "flashsale full stack (reserved)" fs
    if ((SELLOUT_DURATION > 0)); then row "flashsale sell-out (stock $SELLOUT_STOCK, ${SELLOUT_DURATION}s)" fs_so noratio; fi
  fi
  if [[ $SKIP_BASELINE == 1 ]]; then
    echo "naive baseline: skipped (--skip-baseline)"
  else
    row "naive pgbench, $CONNECTIONS clients" naive
    if [[ -n $(r best) ]]; then
      row "naive pgbench, best: $(r best) clients (${SWEEP_DURATION}s)" "naive_c$(r best)"
    elif [[ -n $NAIVE_CLIENTS ]]; then
      echo "naive pgbench, best concurrency: no sweep run succeeded"
    fi
  fi
  if [[ $SKIP_REDIS == 1 ]]; then
    echo "Redis: skipped (--skip-redis)"
  elif [[ -n $(r redis.tput) ]]; then
    row "Redis $(r redis.version) Lua, appendfsync always" redis
  else
    echo "Redis 7 Lua, appendfsync always: $(r redis.note)"
  fi
  if [[ $SKIP_NGINX == 1 ]]; then
    echo "nginx: skipped (--skip-nginx)"
  elif [[ -n $(r nginx.tput) ]]; then
    row "nginx static 202, same load generator" nginx
  else
    echo "nginx static 202: $(r nginx.note)"
  fi
  echo
  echo "per s: orders (flashsale: answers; naive: pgbench tps; Redis: EVALSHA calls; nginx: answers)."
  echo "svc: the flashsale process / redis-server / nginx (master and workers); PG: every PostgreSQL"
  echo "process (backends, walsender, background workers, exited ones too); clients not counted."
  echo "fs/row: flashsale's throughput / the row's, flashsale's CPU per order / the row's."
  if [[ $SKIP_SERVICE != 1 ]]; then
    echo "flashsale: ${R[fs.cores]:-no CPU figures}; ${R[fs.jobs]:-}"
    [[ -z ${R[fs.pg_roles]:-} ]] || echo "flashsale: ${R[fs.pg_roles]}"
    echo "flashsale outcomes: $(json_object outcomes "$(r fs.line)"), transport errors: $(json_field errors "$(r fs.line)"), load generator used $(json_field loadgen_cpu_s "$(r fs.line)") CPU-s"
    [[ -z $(r fs_so.line) ]] ||
      echo "sell-out outcomes: $(json_object outcomes "$(r fs_so.line)"), transport errors: $(json_field errors "$(r fs_so.line)"); ${R[fs_so.cores]:-}; CPU divided by all answers"
  fi
  [[ -z $(r sweep) ]] || echo "naive sweep (${SWEEP_DURATION}s each, tps): $(r sweep)"
  [[ -z $(r redis.tput) ]] ||
    echo "Redis: $(r redis.n) calls with $CONNECTIONS clients, each a new user, about $(r redis.granted) units granted (closed loop whatever --rate says)"
  [[ -z $(r nginx.tput) ]] ||
    echo "nginx: $(r nginx.n) answers, $(r nginx.reserved) counted as reserved, transport errors: $(json_field errors "$(r nginx.line)")"
  echo "oversell check: $oversell; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [[ -n $(r fs.tput) ]]; then
    awk -v s="$(r fs.tput)" -v b="$(r naive.tput)" -v p="$(r fs.p99)" -v rd="$(r redis.tput)" 'BEGIN {
      if (b != "" && b + 0 > 0) printf "SPEC 8 targets: throughput >= 10x naive: %s (%.1fx); ", (s / b >= 10 ? "met" : "NOT met"), s / b
      printf "p99 < 200 ms: %s (goal 50 ms)", (p + 0 < 200 ? "met" : "NOT met")
      if (rd != "" && rd + 0 > 0) printf "; issue 14 moonshot, >= 0.5x Redis: %s (%.2fx)", (s / rd >= 0.5 ? "met" : "NOT met"), s / rd
      printf "\n" }'
  fi
)
{ echo; echo "## side by side"; echo "$table"; } >>"$RESULTS"
echo
echo "$table"
echo "results: $RESULTS"
[[ $oversell != FAIL ]]
