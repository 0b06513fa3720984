#!/usr/bin/env bash
# The placement function alone (issue 14): fs_place_batch as released in 0001 (a loop of about a
# dozen statements per request) against the set-based one of 0007, called straight from pgbench
# with batches of BATCH new users, on fresh databases of one throwaway PostgreSQL 15 cluster.
# Rounds alternate the two, each on the reservation path (unlimited stock) and the sold-out path
# (no stock, a full waiting line: every request refused). Prints per round the placements per
# second and PostgreSQL's CPU per placement (/proc, every backend), then the medians and the
# ratio; then, from pg_stat_statements with track = all, each variant's statements: calls per
# placement and time per call. No service runs: this is the database's share of an order.
#
# usage: bench/placement_sql.sh [--rounds R] [--batch B] [--clients C] [--calls N] [--keep]
# Every flag has an environment variable of the same name in upper case (ROUNDS=5 ...).
set -euo pipefail

BENCH_NAME=placement_sql
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT, BUILD, PG_BIN, RESULTS_DIR, helpers

ROUNDS=${ROUNDS:-3}      # alternating rounds of the two variants
BATCH=${BATCH:-64}       # requests per fs_place_batch call (the coalescer's batch under load)
CLIENTS=${CLIENTS:-4}    # pgbench clients, each on its own item
CALLS=${CALLS:-400}      # calls per client and round
KEEP=${KEEP:-0}

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) need_value "$@"; ROUNDS=$2; shift 2 ;;
    --batch) need_value "$@"; BATCH=$2; shift 2 ;;
    --clients) need_value "$@"; CLIENTS=$2; shift 2 ;;
    --calls) need_value "$@"; CALLS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
for v in ROUNDS BATCH CLIENTS CALLS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a whole number > 0, got '${!v}'"
done
[[ -x $FLASHSALE ]] || die "missing $FLASHSALE: build first (cmake --build $BUILD)"
command -v pgbench >/dev/null || die "missing pgbench (postgresql-client-15)"
CLK_TCK=$(getconf CLK_TCK)

make_work_dir
cleanup() {
  local rc=$?
  set +e
  pg_stop_cluster
  if [[ $KEEP == 1 ]]; then echo "placement_sql: kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_start_cluster "max_connections = 50" "shared_buffers = 256MB" \
  "shared_preload_libraries = 'pg_stat_statements'" "pg_stat_statements.max = 1000"
log "PostgreSQL 15 on 127.0.0.1:$PG_PORT"

# 0001's function, as released: the "before".
awk '/^CREATE FUNCTION fs_place_batch\(/ { on = 1; sub(/^CREATE/, "CREATE OR REPLACE") }
     on { print } on && /^END \$\$;/ { exit }' "$ROOT/migrations/storage_postgres/0001_inventory.sql" \
  >"$WORK/loop.sql"
grep -q 'END \$\$;' "$WORK/loop.sql" || die "no fs_place_batch in 0001_inventory.sql"

# Every client places batches of new users on its own item (one row lock each, as the
# coalescer's batch threads do for different items).
cat >"$WORK/place.sql" <<SQL
\set n random(1, 2000000000)
SELECT count(*) FROM fs_place_batch('p' || :client_id,
  (SELECT jsonb_agg(jsonb_build_object('user', 'u' || :client_id || '-' || :n || '-' || g, 'key', 'k'))
     FROM generate_series(1, $BATCH) AS g));
SQL

# new_db NAME VARIANT PATH: a migrated database; VARIANT loop puts 0001's function back. PATH
# reserve: unlimited stock; soldout: none, and a waiting line that is full (limit 0).
new_db() {
  local db=$1 variant=$2 path=$3 stock=1000000000 limit=NULL
  [[ $path == soldout ]] && { stock=0; limit=0; }
  psql_db -d postgres -c "CREATE DATABASE $db" >/dev/null
  FLASHSALE_DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/$db" "$FLASHSALE" migrate \
    >"$WORK/migrate-$db.log" 2>&1 || { cat "$WORK/migrate-$db.log" >&2; die "migrate failed"; }
  [[ $variant == loop ]] && psql_db -d "$db" -f "$WORK/loop.sql" >/dev/null
  psql_db -d "$db" -c "INSERT INTO items (id, name, total_stock, available, waitlist_limit)
    SELECT 'p' || c, 'placement', $stock, $stock, $limit FROM generate_series(0, $CLIENTS) c" >/dev/null
}

# run DB CALLS: pgbench; prints "placements/s PG-us/placement"
run() {
  local db=$1 calls=$2 before after start end
  psql_db -d "$db" -c CHECKPOINT >/dev/null
  before=$(postgres_ticks)
  start=$(now)
  pgbench -n -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "$CLIENTS" -j "$CLIENTS" -t "$calls" \
    -f "$WORK/place.sql" "$db" >"$WORK/pgbench-$db.log" 2>&1 ||
    { cat "$WORK/pgbench-$db.log" >&2; die "pgbench failed on $db"; }
  end=$(now)
  after=$(postgres_ticks)
  awk -v n="$((CLIENTS * calls * BATCH))" -v s="$(secs_between "$start" "$end")" \
      -v t="$((after - before))" -v hz="$CLK_TCK" \
    'BEGIN { printf "%.0f %.1f\n", n / s, t / hz * 1e6 / n }'
}

mkdir -p "$RESULTS_DIR"
RESULTS=$RESULTS_DIR/placement_sql-$(date +%Y%m%d-%H%M%S).txt
{
  results_header
  echo "params: rounds=$ROUNDS batch=$BATCH clients=$CLIENTS calls=$CALLS (placements per run: $((CLIENTS * CALLS * BATCH)))"
  echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
} >"$RESULTS"

declare -A RATE CPU
for ((r = 1; r <= ROUNDS; r++)); do
  for variant in loop set; do
    for path in reserve soldout; do
      db=${variant}_${path}_$r
      new_db "$db" "$variant" "$path"
      read -r rate cpu < <(run "$db" "$CALLS")
      RATE[$variant,$path]+="$rate "
      CPU[$variant,$path]+="$cpu "
      log "round $r $variant $path: $rate placements/s, $cpu us of PostgreSQL CPU per placement"
      psql_db -d postgres -c "DROP DATABASE $db" >/dev/null
    done
  done
done

{
  echo "fs_place_batch alone, batches of $BATCH new users, $CLIENTS clients (one item each), $ROUNDS rounds alternating"
  printf '%-22s %14s %14s %14s %14s\n' "" "reserve /s" "PG us/order" "sold out /s" "PG us/refusal"
  for variant in loop set; do
    printf '%-22s %14s %14s %14s %14s\n' "$([[ $variant == loop ]] && echo '0001 loop (before)' || echo '0007 set-based (after)')" \
      "$(median "${RATE[$variant,reserve]}")" "$(median "${CPU[$variant,reserve]}")" \
      "$(median "${RATE[$variant,soldout]}")" "$(median "${CPU[$variant,soldout]}")"
  done
  awk -v a="$(median "${RATE[loop,reserve]}")" -v b="$(median "${RATE[set,reserve]}")" \
      -v c="$(median "${CPU[loop,reserve]}")" -v d="$(median "${CPU[set,reserve]}")" \
      -v e="$(median "${RATE[loop,soldout]}")" -v f="$(median "${RATE[set,soldout]}")" \
      -v g="$(median "${CPU[loop,soldout]}")" -v h="$(median "${CPU[set,soldout]}")" \
    'BEGIN { printf "%-22s %13.2fx %13.2fx %13.2fx %13.2fx\n", "after / before", b / a, d / c, f / e, h / g }'
  echo "rounds (placements/s, us/placement): loop reserve ${RATE[loop,reserve]}/ ${CPU[loop,reserve]}; set reserve ${RATE[set,reserve]}/ ${CPU[set,reserve]}"
  echo "                                     loop soldout ${RATE[loop,soldout]}/ ${CPU[loop,soldout]}; set soldout ${RATE[set,soldout]}/ ${CPU[set,soldout]}"
} | tee -a "$RESULTS"

# Each statement, from pg_stat_statements with track = all (nested statements too; slower, so
# a separate, shorter run on the reservation path).
for variant in loop set; do
  db=${variant}_statements
  new_db "$db" "$variant" reserve
  psql_db -d "$db" -c "CREATE EXTENSION pg_stat_statements" >/dev/null
  psql_db -d postgres -c "ALTER DATABASE $db SET pg_stat_statements.track = 'all'" >/dev/null
  psql_db -d "$db" -c "SELECT pg_stat_statements_reset()" >/dev/null
  calls=$(((CALLS + 3) / 4))
  run "$db" "$calls" >/dev/null
  placements=$((CLIENTS * calls * BATCH))
  {
    echo
    echo "$variant: statements per $placements placements (pg_stat_statements, track = all)"
    psql_db -d "$db" -P pager=off -c "
      SELECT round(calls::numeric / $placements, 3) AS calls_per_place,
             round((total_exec_time * 1000 / calls)::numeric, 1) AS us_per_call,
             round((total_exec_time * 1000 / $placements)::numeric, 1) AS us_per_place,
             left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS statement
        FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND query NOT LIKE '%pg_stat_statements%' AND query NOT IN ('BEGIN', 'COMMIT')
       ORDER BY total_exec_time DESC LIMIT 14"
    psql_db -d "$db" -At -c "
      SELECT 'nested statements per placement: ' || round(sum(calls) FILTER (WHERE NOT toplevel)::numeric / $placements, 2)
             || '; fs_place_batch time per placement: '
             || round((sum(total_exec_time) FILTER (WHERE toplevel AND query LIKE '%fs_place_batch%') * 1000 / $placements)::numeric, 1) || ' us'
        FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
  } | tee -a "$RESULTS"
done
log "results: $RESULTS"
