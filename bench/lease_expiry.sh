#!/usr/bin/env bash
# Lease-expiry benchmark (issue 5): LEASES live leases whose expires_at are spread over SPREAD
# seconds, then how late the scheduler (pg_queue) ends them: lateness = ended_at - expires_at of
# every expired reservation (p50/p99/max in SQL), plus the service's own histograms, queue depth
# over time and a stock invariant check. Runs once per configuration, side by side, each on a
# fresh database of one throwaway PostgreSQL 15 cluster. See bench/README.md "Lease expiry".
#
# usage: bench/lease_expiry.sh [--leases N] [--items K] [--window S] [--spread S] [--batch B]
#                              [--parallel P] [--grace S] [--sample S] [--config NAME=JSON]...
#                              [--keep]
# Every flag has an environment variable of the same name in upper case (LEASES=20000 ...).
# --config may be repeated; it replaces the default pair
#   default=''  and  threads6='{"pg_queue": {"threads": 6}}'
# (JSON is passed as FLASHSALE_PLUGIN; an empty JSON means the service's own defaults).
set -euo pipefail

BENCH_NAME=lease_expiry
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT, BUILD, PG_BIN, RESULTS_DIR, helpers

LEASES=${LEASES:-100000}   # live leases per configuration
ITEMS=${ITEMS:-60}         # items; item i has payment_window_s = WINDOW + i*SPREAD/ITEMS
WINDOW=${WINDOW:-60}       # shortest payment window, s (the payment-link jobs get this head start)
SPREAD=${SPREAD:-60}       # expiries spread over this many seconds
BATCH=${BATCH:-50}         # requests per fs_place_batch call (one transaction: one now(), one expires_at)
PARALLEL=${PARALLEL:-4}    # psql sessions placing in parallel
GRACE=${GRACE:-120}        # after the last expires_at, wait at most this long for the stragglers
SAMPLE=${SAMPLE:-3}        # queue-depth sampling interval, s
KEEP=${KEEP:-0}
CONFIGS=()

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --leases) need_value "$@"; LEASES=$2; shift 2 ;;
    --items) need_value "$@"; ITEMS=$2; shift 2 ;;
    --window) need_value "$@"; WINDOW=$2; shift 2 ;;
    --spread) need_value "$@"; SPREAD=$2; shift 2 ;;
    --batch) need_value "$@"; BATCH=$2; shift 2 ;;
    --parallel) need_value "$@"; PARALLEL=$2; shift 2 ;;
    --grace) need_value "$@"; GRACE=$2; shift 2 ;;
    --sample) need_value "$@"; SAMPLE=$2; shift 2 ;;
    --config) need_value "$@"; [[ $2 == *=* ]] || die "--config wants NAME=JSON"; CONFIGS+=("$2"); shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
for v in LEASES ITEMS WINDOW SPREAD BATCH PARALLEL GRACE SAMPLE; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((LEASES > 0 && ITEMS > 0 && WINDOW > 0 && BATCH > 0 && PARALLEL > 0 && SAMPLE > 0)) || die "values must be > 0"
((WINDOW + SPREAD <= 86400)) || die "WINDOW + SPREAD must be <= 86400 (payment_window_s)"
((${#CONFIGS[@]} > 0)) || CONFIGS=("default=" 'threads6={"pg_queue": {"threads": 6}}')

[[ -x $FLASHSALE ]] || die "missing $FLASHSALE: build first (cmake --build $BUILD)"
for tool in initdb pg_ctl; do [[ -x $PG_BIN/$tool ]] || die "missing $PG_BIN/$tool (postgresql-15)"; done
for tool in psql curl; do command -v "$tool" >/dev/null || die "missing $tool"; done

# --- throwaway cluster (as in hot_item.sh) --------------------------------------------------
make_work_dir
SAMPLER_PID=""
PLACER_PIDS=()

stop_sampler() {
  [[ -n $SAMPLER_PID ]] || return 0
  kill -TERM "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=""
}

cleanup() {
  local rc=$?
  set +e
  stop_sampler
  local p
  for p in "${PLACER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  stop_service
  pg_stop_cluster
  if [[ $KEEP == 1 ]]; then echo "lease_expiry: kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_start_cluster "max_connections = 200" "wal_level = logical" "shared_buffers = 256MB"
log "PostgreSQL 15 on 127.0.0.1:$PG_PORT"

mkdir -p "$RESULTS_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$RESULTS_DIR/lease_expiry-$STAMP.txt
{
  results_header
  echo "params: leases=$LEASES items=$ITEMS window=${WINDOW}s spread=${SPREAD}s batch=$BATCH parallel=$PARALLEL grace=${GRACE}s sample=${SAMPLE}s"
  echo "postgres: $("$PG_BIN/postgres" --version); fsync/synchronous_commit on (defaults)"
  echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS"

SUMMARY=()

# --- one configuration --------------------------------------------------------------------
run_config() {
  local name=$1 plugin_json=$2 db=fs_$1
  db=${db//[^a-z0-9_]/_}
  log "=== configuration $name: FLASHSALE_PLUGIN='${plugin_json}' (database $db)"
  psql_db -d postgres -c "CREATE DATABASE $db" >/dev/null

  local env_plugin=()
  [[ -n $plugin_json ]] && env_plugin=(FLASHSALE_PLUGIN="$plugin_json")
  start_service "$db" "$WORK/service-$name.log" "${env_plugin[@]}"
  local public_port=$PUBLIC_PORT
  log "service ready (public :$public_port)"

  # Items: stock split evenly; windows WINDOW .. WINDOW+SPREAD (exclusive) across the items.
  local per=$(((LEASES + ITEMS - 1) / ITEMS))
  psql_db -d "$db" -v items="$ITEMS" -v leases="$LEASES" -v per="$per" -v w="$WINDOW" -v spread="$SPREAD" <<'SQL'
INSERT INTO items (id, name, total_stock, available, payment_window_s)
SELECT 'exp-' || i, 'lease expiry ' || i, s, s, :w + ((i - 1) * :spread) / :items
  FROM generate_series(1, :items) i,
       LATERAL (SELECT least(:per, greatest(0, :leases - (i - 1) * :per))::int AS s) st;
SQL
  psql_db -d "$db" -c CHECKPOINT >/dev/null

  # Placement: one fs_place_batch call per (item, batch of users), dealt round-robin to
  # PARALLEL psql sessions. Users are u<item>-<n>: the idempotency record is per (user, key),
  # so a user reused on another item with the same key would get the first answer replayed.
  # The item order is interleaved so every window gets leases early.
  local i b n k=0 f
  for ((f = 0; f < PARALLEL; f++)); do : >"$WORK/place-$name-$f.sql"; done
  for ((b = 0; b * BATCH < per; b++)); do
    for ((i = 1; i <= ITEMS; i++)); do
      n=$(psql_stock_of "$i" "$per")
      ((b * BATCH < n)) || continue
      local hi=$(((b + 1) * BATCH)); ((hi > n)) && hi=$n
      echo "SELECT outcome, count(*) FROM fs_place_batch('exp-$i', (SELECT jsonb_agg(jsonb_build_object('user', 'u$i-' || g, 'key', 'k')) FROM generate_series($((b * BATCH + 1)), $hi) g)) GROUP BY outcome;" \
        >>"$WORK/place-$name-$((k % PARALLEL)).sql"
      k=$((k + 1))
    done
  done

  start_sampler "$db" "$name"
  local t_place0 t_place1
  t_place0=$(date +%s.%N)
  log "placing $LEASES orders: $k fs_place_batch calls of <= $BATCH on $PARALLEL sessions"
  PLACER_PIDS=()
  for ((f = 0; f < PARALLEL; f++)); do
    psql_db -d "$db" -At -f "$WORK/place-$name-$f.sql" >"$WORK/place-$name-$f.out" 2>&1 &
    PLACER_PIDS+=($!)
  done
  local p rc_place=0
  for p in "${PLACER_PIDS[@]}"; do wait "$p" || rc_place=1; done
  PLACER_PIDS=()
  t_place1=$(date +%s.%N)
  ((rc_place == 0)) || { grep -v '|' "$WORK"/place-"$name"-*.out | head >&2; die "placement failed"; }
  local outcomes
  outcomes=$(cat "$WORK"/place-"$name"-*.out | awk -F'|' '{ n[$1] += $2 } END { for (o in n) printf "%s=%d ", o, n[o] }')
  local placed place_s
  placed=$(psql_db -d "$db" -At -c "SELECT count(*) FROM reservations WHERE item_id LIKE 'exp-%'")
  place_s=$(awk -v a="$t_place0" -v b="$t_place1" 'BEGIN { printf "%.1f", b - a }')
  log "placed: $placed leases (answers: $outcomes) in ${place_s}s ($(awk -v n="$placed" -v s="$place_s" 'BEGIN { printf "%.0f", n / s }')/s)"

  # Wait until no lease is active, at most GRACE s after the last expires_at.
  local last_exp_epoch wait_deadline active=1
  last_exp_epoch=$(psql_db -d "$db" -At -c "SELECT ceil(extract(epoch FROM max(expires_at))) FROM reservations")
  wait_deadline=$((last_exp_epoch + GRACE))
  log "waiting for every lease to expire (last expires_at in $((last_exp_epoch - $(date +%s))) s; give up $GRACE s after it)"
  while :; do
    active=$(psql_db -d "$db" -At -c "SELECT count(*) FROM reservations WHERE status = 'active'")
    ((active == 0)) && break
    (($(date +%s) < wait_deadline)) || { log "TIMEOUT: $active leases still active $GRACE s after the last expires_at"; break; }
    kill -0 "$SERVICE_PID" 2>/dev/null || { log "the service died"; break; }
    sleep 1
  done
  # A few more samples after the end, then stop sampling.
  sleep "$SAMPLE"
  stop_sampler
  curl -s -m 10 "http://127.0.0.1:$public_port/metrics" >"$WORK/metrics-$name.txt" || true

  # --- figures --------------------------------------------------------------------------
  local lat
  lat=$(psql_db -d "$db" -At -F ' ' <<'SQL'
WITH l AS (SELECT extract(epoch FROM ended_at - expires_at) AS s FROM reservations WHERE status = 'expired')
SELECT count(*),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric * 1000, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY s)::numeric * 1000, 1),
       round(max(s)::numeric * 1000, 1),
       round(min(s)::numeric * 1000, 1)
  FROM l;
SQL
  )
  local n_exp p50 p99 mx mn
  read -r n_exp p50 p99 mx mn <<<"$lat"
  local verdict="NOT met"
  awk -v p="$p99" 'BEGIN { exit !(p != "" && p + 0 < 1000) }' && verdict="met"
  ((active == 0)) || verdict="NOT met (timeout)"

  local inv_rows inv=PASS
  inv_rows=$(psql_db -d "$db" -At -F ' ' <<'SQL'
SELECT i.id, i.total_stock, i.available,
       (SELECT count(*) FROM reservations r WHERE r.item_id = i.id AND r.status IN ('active', 'consumed'))
  FROM items i WHERE i.id LIKE 'exp-%' ORDER BY i.id;
SQL
  )
  local bad=0 id total avail held
  while read -r id total avail held; do
    ((avail + held == total && avail >= 0)) || { bad=$((bad + 1)); echo "invariant FAIL $id: total=$total available=$avail held=$held"; }
  done <<<"$inv_rows" >"$WORK/inv-$name.txt"
  ((bad == 0)) || inv=FAIL

  {
    echo
    echo "## configuration $name: FLASHSALE_PLUGIN='${plugin_json}'"
    echo "placement: $placed leases in ${place_s}s (answers: $outcomes; $k fs_place_batch calls, $PARALLEL sessions)"
    echo "expiry lateness (ended_at - expires_at, SQL over $n_exp expired leases): p50 ${p50} ms, p99 ${p99} ms, max ${mx} ms, min ${mn} ms; still active at the end: $active"
    echo "issue 5 target p99 < 1 s: $verdict (goal 250 ms)"
    echo "invariant available + active + consumed == total_stock on $ITEMS items: $inv"
    cat "$WORK/inv-$name.txt"
    echo
    echo "expiry lateness by expires_at second (offset from the first expires_at: leases, p50 ms, p99 ms, max ms):"
    psql_db -d "$db" -At -F ' ' <<'SQL'
WITH f AS (SELECT min(expires_at) AS t0 FROM reservations),
     l AS (SELECT floor(extract(epoch FROM r.expires_at - f.t0) / 5) * 5 AS sec,
                  extract(epoch FROM r.ended_at - r.expires_at) * 1000 AS ms
             FROM reservations r, f WHERE r.status = 'expired')
SELECT '+' || sec || 's', count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1), round(max(ms)::numeric, 1)
  FROM l GROUP BY sec ORDER BY sec;
SQL
    echo
    echo "jobs by kind (state, count, run_at -> finished_at p50/p99/max in ms, attempts > 1):"
    psql_db -d "$db" -At -F ' ' <<'SQL'
SELECT kind, state, count(*),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - run_at))::numeric * 1000, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - run_at))::numeric * 1000, 1),
       round(max(extract(epoch FROM finished_at - run_at))::numeric * 1000, 1),
       count(*) FILTER (WHERE attempts > 1)
  FROM jobs GROUP BY kind, state ORDER BY kind, state;
SQL
    echo
    echo "timeline (s after placement start): event -> job enqueue lag, measured on the per-order make_payment_link jobs (created_at - granted_at p50/p99/max ms); last make_payment_link finished; first/last expires_at:"
    psql_db -d "$db" -At -F ' ' -v t0="$t_place0" <<'SQL'
SELECT 'job enqueue lag ms',
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM j.created_at - r.granted_at))::numeric * 1000, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM j.created_at - r.granted_at))::numeric * 1000, 1),
       round(max(extract(epoch FROM j.created_at - r.granted_at))::numeric * 1000, 1)
  FROM reservations r JOIN jobs j ON j.unique_key = 'payment_link:' || r.order_id;
SELECT 'make_payment_link last finished at +' || round((extract(epoch FROM max(finished_at)) - :t0)::numeric, 1) || 's'
  FROM jobs WHERE kind = 'make_payment_link';
SELECT 'expires_at from +' || round((extract(epoch FROM min(expires_at)) - :t0)::numeric, 1) || 's to +' ||
       round((extract(epoch FROM max(expires_at)) - :t0)::numeric, 1) || 's'
  FROM reservations;
SQL
    echo
    echo "service histogram flashsale_lease_expiry_lateness_seconds: $(hist_pct flashsale_lease_expiry_lateness_seconds <"$WORK/metrics-$name.txt")"
    echo "service histogram flashsale_job_lateness_seconds (all kinds): $(hist_pct flashsale_job_lateness_seconds <"$WORK/metrics-$name.txt")"
    grep -E '^flashsale_(lease_expiry_lateness|job_lateness)_seconds|^flashsale_jobs_total' "$WORK/metrics-$name.txt" || true
    echo
    echo "samples (t s after placement start, load1, active leases, queued by kind, running):"
    awk -v t0="$t_place0" '{ $1 = sprintf("+%.0f", $1 - t0); print }' "$WORK/samples-$name.txt"
  } >>"$RESULTS"

  local svc_rc=0
  stop_service || svc_rc=$?
  {
    echo "service exit status after SIGTERM: $svc_rc"
    echo "service log error lines (first 20):"
    grep -iE 'error|fatal|panic|abort|terminate|warn' "$WORK/service-$name.log" | head -20 || true
    echo "service log (last 20 lines):"
    tail -20 "$WORK/service-$name.log"
  } >>"$RESULTS"
  local jl
  jl=$(hist_pct flashsale_job_lateness_seconds <"$WORK/metrics-$name.txt")
  SUMMARY+=("$(printf '%-10s %8s %9s %9s %9s %7s  %-18s %s' "$name" "$n_exp" "$p50" "$p99" "$mx" "$place_s" "$verdict" "$inv")")
  log "$name: expired $n_exp, lateness p50 ${p50} ms p99 ${p99} ms max ${mx} ms; target $verdict; invariant $inv; job lateness histogram: $jl"
}

# The stock of item i (the last items may get less when LEASES does not divide evenly).
psql_stock_of() { local i=$1 per=$2 s; s=$((LEASES - (i - 1) * per)); ((s > per)) && s=$per; ((s < 0)) && s=0; echo "$s"; }

# Queue depth over time, one line per SAMPLE s: epoch load1 active q:<kind>=<n>... running=<n>.
start_sampler() {
  local db=$1 name=$2
  (
    trap 'exit 0' TERM
    while :; do
      row=$(psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" -At -F ' ' -c "
        SELECT (SELECT count(*) FROM reservations WHERE status = 'active'),
               coalesce((SELECT string_agg('queued:' || kind || '=' || n, ' ' ORDER BY kind)
                           FROM (SELECT kind, count(*) n FROM jobs WHERE state = 'queued' GROUP BY kind) q), 'queued:none'),
               (SELECT count(*) FROM jobs WHERE state = 'running')" 2>/dev/null || echo "query-failed")
      echo "$(date +%s.%N) load=$(cut -d' ' -f1 /proc/loadavg) active=$row" | sed -E 's/ ([0-9]+)$/ running=\1/' >>"$WORK/samples-$name.txt"
      sleep "$SAMPLE" &
      wait $!
    done
  ) &
  SAMPLER_PID=$!
}

for cfg in "${CONFIGS[@]}"; do
  run_config "${cfg%%=*}" "${cfg#*=}"
done

table=$(
  printf '%-10s %8s %9s %9s %9s %7s  %-18s %s\n' "config" "expired" "p50 ms" "p99 ms" "max ms" "place s" "p99 < 1 s" "invariant"
  printf '%s\n' "${SUMMARY[@]}"
  echo "lateness = reservations.ended_at - expires_at; $LEASES leases on $ITEMS items, windows ${WINDOW}..$((WINDOW + SPREAD)) s; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
)
{ echo; echo "## side by side"; echo "$table"; } >>"$RESULTS"
echo
echo "$table"
echo "results: $RESULTS"
! grep -q ' FAIL$' <<<"$table"
