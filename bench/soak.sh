#!/usr/bin/env bash
# Soak test (issue 13): MINUTES (30) of mixed traffic against one `flashsale serve` on a
# throwaway PostgreSQL 15, then a verdict: do the service's RSS and open descriptors plateau?
#
# The mix, all at once for the whole run:
#   - placements: flashsale-loadgen, open loop at RATE/s, one 60-s run per minute (so its
#     connections come and go), round-robin over 5 items: soak-big (never sells out), soak-a/b/c
#     (STOCK units, restocked as they are paid for, so their waiting lines stay full) and
#     soak-gone (sold out for good after its first seconds);
#   - payments, cancels, lease expiry: a driver, every TICK s, lists each item's active leases
#     and waiting line (admin API) and acts once on each order, chosen by the last hex digit of
#     its id: pays it (the webhook the fake provider's payer would call; some twice: duplicate
#     event), pays "failed", pays after its lease ended (refund_required -> refund job), cancels
#     it (reserved or waiting), has an operator expire it, or leaves it to lapse: leases last
#     WINDOW..WINDOW+5 s, so expiry sweeps and promotions from the line never stop;
#   - WebSocket clients on /v1/stream (flashsale-wsbench, batches of WS_CLIENTS and a quarter of
#     it, 15-45 s each, the placing users) and ADMIN_CLIENTS on /admin/stream
#     (flashsale-eventlag, 20-90 s each), coming and going.
# Every minute one line: RSS, descriptors, TCP connections, PostgreSQL backends, placement rate,
# p50/p99 and errors (CSV in RESULTS_DIR/soak-<time>.csv). Exit 1 when RSS or the descriptors
# not held by a connection grow from the middle third of the run to the last (more than
# TOL_PCT % and RSS_TOL_MIB / FD_TOL), when an invariant or a stream check fails.
# See bench/README.md, "Soak".
#
# usage: bench/soak.sh [--minutes M] [--rate R] [--connections N] [--users U] [--window S]
#                      [--stock K] [--tick S] [--ws-clients N] [--admin-clients N] [--build] [--keep]
# Every flag has an environment variable of the same name in upper case (MINUTES=3 ...;
# --build is FORCE_BUILD=1).
set -Eeuo pipefail

BENCH_NAME=soak
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT, BUILD, PG_BIN, RESULTS_DIR, helpers

MINUTES=${MINUTES:-30}
RATE=${RATE:-150}                 # placements/s over the 5 items (open loop)
CONNECTIONS=${CONNECTIONS:-20}    # loadgen keep-alive connections (new ones every minute)
USERS=${USERS:-2000}              # placing users soak-u0 .. soak-u(USERS-1), round-robin
WINDOW=${WINDOW:-5}               # payment window (lease) of soak-big and soak-a, seconds
STOCK=${STOCK:-40}                # units of soak-a/b/c not yet paid for (kept by restocking)
TICK=${TICK:-1}                   # the payment/cancel driver's period, seconds
WS_CLIENTS=${WS_CLIENTS:-200}     # /v1/stream clients per batch of the first WebSocket loop
ADMIN_CLIENTS=${ADMIN_CLIENTS:-2} # /admin/stream loops (one client each at a time)
TOL_PCT=${TOL_PCT:-5}             # plateau: last third at most this % above the middle third ...
RSS_TOL_MIB=${RSS_TOL_MIB:-4}     # ... or this many MiB (whichever is larger)
FD_TOL=${FD_TOL:-8}               # ... or this many descriptors
FORCE_BUILD=${FORCE_BUILD:-0}
KEEP=${KEEP:-0}

usage() { sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --minutes) need_value "$@"; MINUTES=$2; shift 2 ;;
    --rate) need_value "$@"; RATE=$2; shift 2 ;;
    --connections) need_value "$@"; CONNECTIONS=$2; shift 2 ;;
    --users) need_value "$@"; USERS=$2; shift 2 ;;
    --window) need_value "$@"; WINDOW=$2; shift 2 ;;
    --stock) need_value "$@"; STOCK=$2; shift 2 ;;
    --tick) need_value "$@"; TICK=$2; shift 2 ;;
    --ws-clients) need_value "$@"; WS_CLIENTS=$2; shift 2 ;;
    --admin-clients) need_value "$@"; ADMIN_CLIENTS=$2; shift 2 ;;
    --build) FORCE_BUILD=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
for v in MINUTES RATE CONNECTIONS USERS WINDOW STOCK TICK WS_CLIENTS ADMIN_CLIENTS TOL_PCT RSS_TOL_MIB FD_TOL; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((MINUTES >= 1 && RATE >= 5 && CONNECTIONS >= 1 && USERS >= 1 && WINDOW >= 1 && STOCK >= 1 && TICK >= 1)) ||
  die "MINUTES, CONNECTIONS, USERS, WINDOW, STOCK and TICK must be > 0, RATE >= 5"
((WS_CLIENTS >= 4)) || die "WS_CLIENTS must be >= 4"
((MINUTES >= 3)) || log "fewer than 3 minutes: no plateau verdict (it compares the middle and the last third)"

LOADGEN=$BUILD/bin/flashsale-loadgen
WSBENCH=$BUILD/bin/flashsale-wsbench
EVENTLAG=$BUILD/bin/flashsale-eventlag
bench_build "$FORCE_BUILD" flashsale flashsale-loadgen flashsale-wsbench flashsale-eventlag
for tool in initdb pg_ctl postgres; do [[ -x $PG_BIN/$tool ]] || die "missing $PG_BIN/$tool (postgresql-15)"; done
# jq: the driver reads the admin API's nested answers (lists of leases), which the flat-line
# helpers of lib.sh cannot; ss: the TCP connections per listener.
for tool in psql curl jq ss; do command -v "$tool" >/dev/null || die "missing $tool"; done

USER_PREFIX=soak-u
ITEMS=(soak-big soak-a soak-b soak-c soak-gone)
RESTOCKED="soak-a soak-b soak-c"  # kept at STOCK unpaid units by the driver

# --- throwaway cluster, and the cleanup of everything started here ----------------------------
make_work_dir
LOADGEN_PID=""
cleanup() {
  local rc=$? pid
  trap - ERR
  set +e
  [[ -z $LOADGEN_PID ]] || stop_pid "$LOADGEN_PID" 3
  for pid in "${CHILD_PIDS[@]}"; do stop_pid "$pid" 5; done
  [[ -z $SERVICE_PID ]] || stop_pid "$SERVICE_PID" 15
  pg_stop_cluster
  if [[ $KEEP == 1 ]]; then echo "soak: kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "soak: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

pg_start_cluster "max_connections = 200" "wal_level = logical" "shared_buffers = 128MB" \
  "fsync = on" "synchronous_commit = on"
DB=flashsale
psql_db -d postgres -c "CREATE DATABASE $DB" >/dev/null
log "PostgreSQL 15 on 127.0.0.1:$PG_PORT, database $DB"

mkdir -p "$RESULTS_DIR"
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS=$RESULTS_DIR/soak-$STAMP.txt
CSV=$RESULTS_DIR/soak-$STAMP.csv
{
  results_header
  echo "binaries: flashsale built $(date -u -r "$FLASHSALE" +%Y-%m-%dT%H:%M:%SZ)"
  echo "params: minutes=$MINUTES rate=$RATE/s connections=$CONNECTIONS users=$USERS window=${WINDOW}s stock=$STOCK tick=${TICK}s ws_clients=$WS_CLIENTS+$((WS_CLIENTS / 4)) admin_clients=$ADMIN_CLIENTS tol=${TOL_PCT}%/${RSS_TOL_MIB}MiB/${FD_TOL}fds"
  echo "postgres: $("$PG_BIN/postgres" --version); fsync, synchronous_commit on"
  echo "FLASHSALE_* from the environment: $(env | grep -E '^FLASHSALE_' | tr '\n' ' ' || true)"
  echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS"

# --- the service and the items -----------------------------------------------------------------
log "starting flashsale serve"
start_service "$DB" "$WORK/service.log"
log "service ready: public :$PUBLIC_PORT, admin :$ADMIN_PORT, pid $SERVICE_PID"
PUB=http://127.0.0.1:$PUBLIC_PORT
ADM=http://127.0.0.1:$ADMIN_PORT
echo "loaded plugins: $(curl -s -m 2 "$ADM/admin/plugins" | jq -r '[.plugins[].name] | join(" ")' 2>/dev/null || echo '?')" >>"$RESULTS"

create_item() {  # create_item ID STOCK WINDOW_S WAITLIST_LIMIT(or null)
  local code
  code=$(curl -s -o "$WORK/create.out" -w '%{http_code}' -m 10 -X POST "$ADM/admin/items" \
    -d "{\"id\": \"$1\", \"name\": \"$1\", \"total_stock\": $2, \"payment_window_s\": $3, \"per_user_limit\": 1000, \"waitlist_limit\": $4}")
  [[ $code == 201 ]] || die "POST /admin/items $1 answered $code: $(cat "$WORK/create.out")"
}
# Placements are 1/5 of RATE per item. soak-a/b/c grant at most STOCK units per lease time, far
# below that, so their lines fill up to the limit (sold_out past it), and move as leases lapse,
# are cancelled or paid (then restocked). soak-gone: once its 20 units are paid, sold out for
# good with a line that only cancels shorten. Different windows, so sweeps are not in step.
create_item soak-big 100000000 "$WINDOW" null
create_item soak-a "$STOCK" "$WINDOW" 300
create_item soak-b "$STOCK" $((WINDOW + 2)) 300
create_item soak-c "$STOCK" $((WINDOW + 5)) 300
create_item soak-gone 20 "$WINDOW" 50
LATE_AFTER=$((WINDOW + 5 + 3))  # a late payment is sent this long after its lease was seen

# --- the payment / cancel / restock driver -------------------------------------------------------
# What happens to an order, by the last hex digit of its id (random: gen_random_uuid):
#   0: paid, and the same webhook again (answered "duplicate")   1-4: paid
#   5: payment failed (the lease lapses)                          6-7: cancelled by its user
#   8: paid after its lease ended (refund_required, refund job)   9: expired by an operator
#   a-f: left alone (the lease lapses: expiry sweep, promotion of the next in line)
# An order is acted on once: the ids acted on in the last LATE_AFTER+10 s are skipped.
# shellcheck disable=SC2016  # a jq program, not shell
DRIVER_JQ='
  def class: .order_id[-1:] as $c | "0123456789abcdef" | index($c);
  ($handled | split("\n") | map(select(length > 0) | split(" ")[1]) | map({(.): true}) | add // {}) as $seen
  | ($restocked | split(" ")) as $rs
  | (.[] | select(has("items")) | .items[] | select(.id as $i | $rs | index($i))
     | (($stock | tonumber) - (.total_stock - .confirmed)) as $n | select($n > 0)
     | ["restock", .id, "", "", ($n | tostring)]),
    (.[] | select(has("leases")) | .leases[] | select($seen[.order_id] | not) | class as $k
     | if $k == 0 then ["pay", .order_id, .user_id], ["paydup", .order_id, .user_id]
       elif $k <= 4 then ["pay", .order_id, .user_id]
       elif $k == 5 then ["fail", .order_id, .user_id]
       elif $k <= 7 then ["cancel", .order_id, .user_id]
       elif $k == 8 then ["late", .order_id, .user_id]
       elif $k == 9 then ["opexpire", .order_id, .user_id]
       else empty end),
    (.[] | select(has("waitlist")) | .waitlist[] | select($seen[.order_id] | not) | class as $k
     | select($k == 6 or $k == 7) | ["wcancel", .order_id, .user_id])
  | @tsv'
# One action per line in; a curl config (one transfer per action, "next" between them) out.
# Each transfer writes its answer's body, then a tab, its HTTP code, its kind.
# shellcheck disable=SC2016  # an awk program, not shell
CURL_CFG_AWK='
  BEGIN { FS = "\t" }
  function emit(url, method, data, hdr, kind) {
    if (n++) print "next"
    printf "url = \"%s\"\nrequest = \"%s\"\n", url, method
    if (data != "") printf "data = \"%s\"\n", data
    if (hdr != "") printf "header = \"%s\"\n", hdr
    printf "write-out = \"\\t%%{http_code}\\t%s\\n\"\n", kind
  }
  function hook(id, ev, outcome) {
    return "{\\\"event_id\\\": \\\"" ev "-" id "\\\", \\\"order_id\\\": \\\"" id "\\\", \\\"outcome\\\": \\\"" outcome "\\\"}"
  }
  $1 == "pay" || $1 == "paydup" { emit(pub "/v1/payments/webhook", "POST", hook($2, "pay", "succeeded"), "", $1) }
  $1 == "fail" { emit(pub "/v1/payments/webhook", "POST", hook($2, "fail", "failed"), "", "fail") }
  $1 == "latepay" { emit(pub "/v1/payments/webhook", "POST", hook($2, "late", "succeeded"), "", "latepay") }
  $1 == "cancel" || $1 == "wcancel" { emit(pub "/v1/orders/" $2 "/cancel", "POST", "", "X-User-Id: " $3, $1) }
  $1 == "opexpire" { emit(adm "/admin/orders/" $2 "/expire", "POST", "", "", "opexpire") }
  $1 == "restock" { emit(adm "/admin/items/" $2, "PATCH", "{\\\"add_stock\\\": " $5 "}", "", "restock") }'
# The answers of one tick, counted: "time confirmed refund_required duplicate failed cancelled
# conflict opexpired restocked errors" (conflict: 409, the order had moved on meanwhile).
# shellcheck disable=SC2016  # an awk program, not shell
TALLY_AWK='
  BEGIN { FS = "\t"; split(units, unit, " ") }
  { body = $1; code = $2; kind = $3
    if (code !~ /^[24]/ || (code ~ /^4/ && code != 409)) { err++; next }
    if (kind ~ /^(pay|paydup|latepay|fail)$/) {
      if (body ~ /"duplicate": *true/) dup++
      else if (body ~ /"result": *"confirmed"/) conf++
      else if (body ~ /"result": *"refund_required"/) refund++
      else if (body ~ /"result": *"failed"/) failed++
      else err++
    } else if (kind ~ /cancel$/) { if (code == 200) canc++; else conflict++ }
    else if (kind == "opexpire") { if (code == 200) opexp++; else conflict++ }
    else if (kind == "restock") { if (code == 200) restocked += unit[++r]; else err++ } }
  END { printf "%s %d %d %d %d %d %d %d %d %d\n", now, conf, refund, dup, failed, canc, conflict, opexp, restocked, err }'

driver_tick() {
  local now urls=() item
  now=$(date +%s)
  urls+=("$ADM/admin/items")
  for item in "${ITEMS[@]}"; do urls+=("$ADM/admin/items/$item/leases?limit=10000" "$ADM/admin/items/$item/waitlist?limit=1000"); done
  curl -s -m 5 "${urls[@]}" >"$WORK/driver.state" || { echo "$now 0 0 0 0 0 0 0 0 1" >>"$WORK/actions.log"; return 0; }
  # Forget ids acted on long ago; due late payments join this tick's actions.
  awk -v t=$((now - LATE_AFTER - 10)) '$1 >= t' "$WORK/handled.txt" >"$WORK/handled.new"; mv "$WORK/handled.new" "$WORK/handled.txt"
  awk -v t="$now" '$1 <= t { print "latepay\t" $2 }' "$WORK/late.txt" >"$WORK/driver.actions"
  awk -v t="$now" '$1 > t' "$WORK/late.txt" >"$WORK/late.new"; mv "$WORK/late.new" "$WORK/late.txt"
  jq -rs --rawfile handled "$WORK/handled.txt" --arg restocked "$RESTOCKED" --arg stock "$STOCK" \
    "$DRIVER_JQ" <"$WORK/driver.state" >>"$WORK/driver.actions" 2>"$WORK/driver.jqerr" ||
    { echo "$now 0 0 0 0 0 0 0 0 1" >>"$WORK/actions.log"; return 0; }
  awk -F'\t' -v t="$now" '$1 != "restock" && $1 != "latepay" { print t, $2 }' "$WORK/driver.actions" >>"$WORK/handled.txt"
  awk -F'\t' -v t=$((now + LATE_AFTER)) '$1 == "late" { print t, $2 }' "$WORK/driver.actions" >>"$WORK/late.txt"
  grep -vE '^late	' "$WORK/driver.actions" >"$WORK/driver.todo" || true
  if [[ -s $WORK/driver.todo ]]; then
    awk -v pub="$PUB" -v adm="$ADM" "$CURL_CFG_AWK" "$WORK/driver.todo" >"$WORK/driver.curl"
    curl -s -m 8 -K "$WORK/driver.curl" >"$WORK/driver.answers" 2>/dev/null || true
  else
    : >"$WORK/driver.answers"
  fi
  # The restock amounts, in order, for the tally (the answers do not repeat them).
  awk -F'\t' '$1 == "restock" { printf "%s ", $5 }' "$WORK/driver.todo" >"$WORK/driver.units"
  awk -v now="$now" -v units="$(cat "$WORK/driver.units")" "$TALLY_AWK" "$WORK/driver.answers" >>"$WORK/actions.log"
}
driver_loop() {
  set +e  # a tick that failed is counted as an error; the next one tries again
  trap - ERR  # (set -E hands the script's ERR trap down; a stopped sleep is not an error)
  : >"$WORK/handled.txt"; : >"$WORK/late.txt"
  trap 'exit 0' TERM
  while [[ ! -f $WORK/stop ]]; do
    driver_tick
    sleep "$TICK" & wait $!  # (wait: SIGTERM is acted on at once, not after the sleep)
  done
}

# --- clients that come and go ------------------------------------------------------------------
# A loop that runs its command again and again, with a pause in between, until $WORK/stop; on
# SIGTERM it stops its current client (which reports and exits) and ends. Each client's JSON
# line and exit status go to LOG: "rc <json>".
CHILD="" STOP=0
churn_loop() {  # churn_loop LOG MIN_S MAX_S PAUSE_MAX_S COMMAND... (COMMAND gets --duration S)
  local logf=$1 lo=$2 hi=$3 pause=$4 rc out=$WORK/churn.$BASHPID.out
  shift 4
  set +e
  trap - ERR
  trap 'STOP=1; [[ -z $CHILD ]] || kill -TERM "$CHILD" 2>/dev/null' TERM
  while [[ $STOP == 0 && ! -f $WORK/stop ]]; do
    "$@" --duration $((lo + RANDOM % (hi - lo + 1))) >"$out" 2>>"$logf.err" &
    CHILD=$!
    rc=0
    wait "$CHILD" || rc=$?
    # A wait cut short by our SIGTERM (status > 128, the client still there): the client's own.
    while ((rc > 128)) && kill -0 "$CHILD" 2>/dev/null; do rc=0; wait "$CHILD" || rc=$?; done
    CHILD=""
    echo "$rc $(tail -1 "$out")" >>"$logf"
    [[ $STOP == 0 ]] || break
    sleep $((1 + RANDOM % pause)) & wait $!
  done
}

# --- per-minute figures ------------------------------------------------------------------------
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVICE_PID/status"; }
fd_count() { find "/proc/$SERVICE_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# Server-side TCP connections on a listener port, in one state.
tcp_count() { ss -Htn state "$2" "( sport = :$1 )" 2>/dev/null | wc -l; }
metrics() { curl -s -m 5 "$ADM/metrics" || true; }
# Orders/leases of the minute on the database clock, live leases and the line now, jobs, and
# the PostgreSQL backends (the service's, by application_name flashsale/<node>/<plugin>, and all).
db_minute() {  # db_minute T0 (epoch s, database clock) -> "t1 granted promoted expired confirmed cancelled active waiting queued dead pg_service pg_all"
  psql_db -d "$DB" -At -F ' ' -v t0="$1" <<'SQL'
SELECT extract(epoch FROM now()),
  (SELECT count(*) FROM reservations WHERE granted_at >= to_timestamp(:t0) AND granted_at < now()),
  (SELECT count(*) FROM reservations r JOIN orders o ON o.id = r.order_id
    WHERE r.granted_at >= to_timestamp(:t0) AND r.granted_at < now() AND r.granted_at > o.created_at),
  (SELECT count(*) FROM reservations WHERE status = 'expired' AND ended_at >= to_timestamp(:t0) AND ended_at < now()),
  (SELECT count(*) FROM orders WHERE status = 'confirmed' AND updated_at >= to_timestamp(:t0) AND updated_at < now()),
  (SELECT count(*) FROM orders WHERE status = 'cancelled' AND updated_at >= to_timestamp(:t0) AND updated_at < now()),
  (SELECT count(*) FROM reservations WHERE status = 'active'),
  (SELECT count(*) FROM orders WHERE status = 'waiting'),
  (SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')),
  (SELECT count(*) FROM jobs WHERE state = 'dead'),
  (SELECT count(*) FILTER (WHERE application_name LIKE 'flashsale/%') FROM pg_stat_activity
    WHERE pid <> pg_backend_pid() AND backend_type IN ('client backend', 'walsender')),
  (SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type IN ('client backend', 'walsender'));
SQL
}
outcome() { type_count "$(json_object outcomes "$1")" "$2"; }

# --- the run -----------------------------------------------------------------------------------
log "$MINUTES minute(s): placements $RATE/s on ${ITEMS[*]}, leases ${WINDOW}-$((WINDOW + 5)) s, payments/cancels every ${TICK}s, WebSocket and admin-stream clients coming and going"
: >"$WORK/actions.log"
driver_loop &
CHILD_PIDS+=($!)
churn_loop "$WORK/ws.log" 15 45 10 "$WSBENCH" --port "$PUBLIC_PORT" --connections "$WS_CLIENTS" \
  --user-prefix "$USER_PREFIX" --connect-rate 500 --ramp-timeout 30 &
CHILD_PIDS+=($!)
churn_loop "$WORK/ws.log" 15 45 10 "$WSBENCH" --port "$PUBLIC_PORT" --connections $((WS_CLIENTS / 4)) \
  --user-prefix "$USER_PREFIX" --connect-rate 500 --ramp-timeout 30 &
CHILD_PIDS+=($!)
for ((i = 0; i < ADMIN_CLIENTS; i++)); do
  churn_loop "$WORK/admin.log" 20 90 10 "$EVENTLAG" --port "$ADMIN_PORT" &
  CHILD_PIDS+=($!)
done

CSV_HEADER="minute,elapsed_s,rss_mib,fds,fds_other,tcp_public,tcp_admin,close_wait,pg_service,pg_all,place_rps,p50_ms,p99_ms,errors,reserved,waiting,sold_out,other_refusals,paid,refunds,duplicates,pay_failed,cancelled,op_expired,conflicts,restocked,driver_errors,leases_granted,promoted,expired,active_leases,waiting_now,jobs_pending,jobs_dead,ws_public,ws_admin,service_cpu,load1"
echo "$CSV_HEADER" >"$CSV"
TABLE_FMT='%4s %7s %8s %5s %5s %5s %5s %3s %4s %8s %7s %7s %6s %6s %6s %7s %7s %6s %5s %5s\n'
table_head() {
  # shellcheck disable=SC2059  # the format is ours
  printf "$TABLE_FMT" min elapsed rss_MiB fds other tcp_p tcp_a cw pg place/s p50_ms p99_ms errors paid cancel expired promote ws_pub ws_ad load1
}
table_head | tee -a "$WORK/table.txt"
RUN_T0=$(now)
DB_T0=$(psql_db -d "$DB" -At -c "SELECT extract(epoch FROM now())")
CPU_T0=$(proc_ticks "$SERVICE_PID") CPU_TIME0=$RUN_T0 WIN_T0=${RUN_T0%.*}
for ((m = 1; m <= MINUTES; m++)); do
  lg_rc=0
  "$LOADGEN" --port "$PUBLIC_PORT" --item "$(IFS=,; echo "${ITEMS[*]}")" --rate "$RATE" --duration 60 \
    --connections "$CONNECTIONS" --threads 1 --users "$USERS" --user-prefix "$USER_PREFIX" \
    --user-mode random --timeout 10 --drain 5 >"$WORK/loadgen.json" 2>"$WORK/loadgen.err" &
  LOADGEN_PID=$!
  wait "$LOADGEN_PID" || lg_rc=$?
  LOADGEN_PID=""
  kill -0 "$SERVICE_PID" 2>/dev/null || { tail -30 "$WORK/service.log" >&2; die "the service exited during minute $m"; }
  lg=$(tail -1 "$WORK/loadgen.json" 2>/dev/null || true)
  [[ $lg == '{"requests":'* ]] || { lg=""; log "minute $m: flashsale-loadgen exited $lg_rc without a report: $(tail -2 "$WORK/loadgen.err" | tr '\n' ' ')"; }
  # The service's own figures, read back to back so the descriptors and connections agree.
  rss=$(rss_mib)
  fds=$(fd_count)
  tcp_p=$(tcp_count "$PUBLIC_PORT" established)
  tcp_a=$(tcp_count "$ADMIN_PORT" established)
  cw=$(($(tcp_count "$PUBLIC_PORT" close-wait) + $(tcp_count "$ADMIN_PORT" close-wait)))
  # Descriptors not held by a client connection: the listeners, epoll, timers, PostgreSQL
  # connections, files. Clients come and go (that is the point), so this is what must stay flat.
  fds_other=$((fds - tcp_p - tcp_a))
  cpu_t=$(proc_ticks "$SERVICE_PID")
  min_t1=$(now)
  db_t1="" granted=0 promoted=0 expired=0 active=0 waiting_now=0 jobs_pending=0 jobs_dead=0 pg_svc=0 pg_all=0
  read -r db_t1 granted promoted expired _confirmed _cancelled active waiting_now jobs_pending jobs_dead pg_svc pg_all \
    < <(db_minute "$DB_T0") || log "minute $m: the database figures failed"
  DB_T0=${db_t1:-$DB_T0}
  met=$(metrics)
  ws_pub=$(metric_sum 'flashsale_ws_connections{listener="public"}' "$met")
  ws_adm=$(metric_sum 'flashsale_ws_connections{listener="admin"}' "$met")
  # Driver tallies of this minute (lines stamped in [min_t0, min_t1)).
  # Driver tallies of this minute: ticks stamped since the previous minute's end.
  win_t1=${min_t1%.*}
  read -r paid refunds dups payfail cancelled conflicts opexp restocked drv_err < <(
    awk -v a="$WIN_T0" -v b="$win_t1" '$1 >= a && $1 < b { for (i = 2; i <= 10; i++) s[i] += $i }
      END { for (i = 2; i <= 10; i++) printf "%d ", s[i] + 0; print "" }' "$WORK/actions.log")
  WIN_T0=$win_t1
  svc_cpu=$(cores $((cpu_t - CPU_T0)) "$(secs_between "$CPU_TIME0" "$min_t1")")
  CPU_T0=$cpu_t CPU_TIME0=$min_t1
  elapsed=$(awk -v a="$RUN_T0" -v b="$min_t1" 'BEGIN { printf "%.0f", b - a }')
  load1=$(cut -d' ' -f1 /proc/loadavg)
  rps=$(json_field throughput_rps "$lg"); p50=$(json_field p50_ms "$lg"); p99=$(json_field p99_ms "$lg")
  reserved=$(outcome "$lg" reserved); waiting=$(outcome "$lg" waiting); sold_out=$(outcome "$lg" sold_out)
  # Errors: transport errors, and answers that are the service's trouble (5xx: overloaded,
  # unavailable, ...); sold_out and other 409s are answers a sale gives.
  fivexx=$(json_object outcomes "$lg" | { grep -oE '"(overloaded|unavailable|internal|http_5[0-9]{2})":[0-9]+' || true; } |
    awk -F: '{ s += $2 } END { print s + 0 }')
  transport=$(json_field errors "$lg"); answered=$(json_field requests "$lg")
  errors=$((${transport:-0} + fivexx))
  other=$((${answered:-0} - reserved - waiting - sold_out - fivexx))
  [[ -n $lg ]] || { rps=0; errors=-1; other=0; }
  echo "$m,$elapsed,$rss,$fds,$fds_other,$tcp_p,$tcp_a,$cw,$pg_svc,$pg_all,${rps:-0},${p50:-},${p99:-},$errors,$reserved,$waiting,$sold_out,$other,$paid,$refunds,$dups,$payfail,$cancelled,$opexp,$conflicts,$restocked,$drv_err,$granted,$promoted,$expired,$active,$waiting_now,$jobs_pending,$jobs_dead,$ws_pub,$ws_adm,$svc_cpu,$load1" >>"$CSV"
  # shellcheck disable=SC2059
  printf "$TABLE_FMT" "$m" "$elapsed" "$rss" "$fds" "$fds_other" "$tcp_p" "$tcp_a" "$cw" "$pg_svc" "${rps:-0}" "${p50:--}" "${p99:--}" \
    "$errors" "$paid" "$cancelled" "$expired" "$promoted" "$ws_pub" "$ws_adm" "$load1" | tee -a "$WORK/table.txt"
done

# --- stop the clients, check, stop the service ------------------------------------------------
log "load over: stopping the clients"
touch "$WORK/stop"
for pid in "${CHILD_PIDS[@]}"; do stop_pid "$pid" 10 || true; done  # (|| true: it fails on a pid already gone)
CHILD_PIDS=()
sleep 1
RSS_END=$(rss_mib)
HWM_END=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVICE_PID/status")
FDS_IDLE=$(fd_count)
TCP_IDLE="$(tcp_count "$PUBLIC_PORT" established)/$(tcp_count "$ADMIN_PORT" established)"
metrics >"$WORK/metrics-end.txt"

# Invariants on every item (as hot_item.sh): no unit lost or sold twice, no one waiting while a
# unit is free, at most one active lease per order.
INVARIANT=$(psql_db -d "$DB" -At -F ' ' -c "
  SELECT i.id, i.total_stock, i.available, i.waiting,
         count(r.id) FILTER (WHERE r.status = 'active'), count(r.id) FILTER (WHERE r.status = 'consumed'),
         (SELECT count(*) FROM orders o WHERE o.item_id = i.id AND o.status = 'waiting'),
         CASE WHEN i.available >= 0
               AND i.available + count(r.id) FILTER (WHERE r.status IN ('active', 'consumed')) = i.total_stock
               AND NOT (i.available > 0 AND EXISTS (SELECT 1 FROM orders o WHERE o.item_id = i.id AND o.status = 'waiting'))
              THEN 'ok' ELSE 'BROKEN' END
  FROM items i LEFT JOIN reservations r ON r.item_id = i.id
  GROUP BY i.id ORDER BY i.id")
DOUBLE_LEASES=$(psql_db -d "$DB" -At -c "SELECT count(*) FROM (SELECT order_id FROM reservations WHERE status = 'active' GROUP BY order_id HAVING count(*) > 1) d")
TOTALS=$(psql_db -d "$DB" -At -F ' ' -c "
  SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM orders WHERE status = 'confirmed'),
         (SELECT count(*) FROM orders WHERE status = 'cancelled'), (SELECT count(*) FROM orders WHERE status = 'expired'),
         (SELECT count(*) FROM reservations), (SELECT count(*) FROM payment_events),
         (SELECT count(*) FROM jobs WHERE state = 'dead'), pg_size_pretty(pg_database_size(current_database()))")
JOBS=$(psql_db -d "$DB" -At -F ' ' -c "SELECT kind, state, count(*) FROM jobs GROUP BY 1, 2 ORDER BY 1, 2" | paste -sd';' || true)
DEAD_ERRORS=$(psql_db -d "$DB" -At -c "SELECT kind || ': ' || coalesce(last_error, '?') FROM jobs WHERE state = 'dead' LIMIT 5" || true)
REFUNDS=$(curl -s -m 5 "$ADM/fake-payments/refunds" | jq '.refunds | length' 2>/dev/null || echo '?')

log "stopping the service (SIGTERM)"
svc_rc=0
stop_service || svc_rc=$?
awk '/listening: public/ { up = 1; next } up' "$WORK/service.log" |
  grep -iE 'error|fatal|panic|abort|terminate|lost|too slow' | head -30 >"$WORK/service-problems.txt" || true

# --- verdict -------------------------------------------------------------------------------------
# Mean of the last third of the minutes against the middle third (the first third is warm-up:
# pools filling, the websocket replay window filling, glibc arenas growing to their working size).
# Growing: the last third's mean is above the middle third's by more than TOL_PCT % and by more
# than the absolute tolerance. The slope over the last two thirds (least squares, per minute)
# is printed too.
plateau() {  # plateau COLUMN ABS_TOL UNIT -> "PLATEAU|GROWING|n/a <text>"
  awk -F, -v col="$1" -v tol_abs="$2" -v pct="$TOL_PCT" -v unit="$3" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
    { n++; v[n] = $c + 0 }
    END {
      if (n < 3) { print "n/a fewer than 3 minutes"; exit }
      a = int(n / 3); b = int(2 * n / 3)
      for (i = a + 1; i <= b; i++) { mid += v[i]; nm++ }
      for (i = b + 1; i <= n; i++) { last += v[i]; nl++ }
      mid /= nm; last /= nl
      for (i = a + 1; i <= n; i++) { k++; sx += i; sy += v[i]; sxx += i * i; sxy += i * v[i] }
      slope = (k > 1 && k * sxx - sx * sx != 0) ? (k * sxy - sx * sy) / (k * sxx - sx * sx) : 0
      tol = mid * pct / 100; if (tol < tol_abs) tol = tol_abs
      verdict = (last - mid > tol) ? "GROWING" : "PLATEAU"
      printf "%s middle third (min %d-%d) %.1f %s, last third (min %d-%d) %.1f %s: %+.1f %s (tolerance %.1f); slope over min %d-%d %+.2f %s/min\n",
        verdict, a + 1, b, mid, unit, b + 1, n, last, unit, last - mid, unit, tol, a + 1, n, slope, unit
    }' "$CSV"
}
RSS_VERDICT=$(plateau rss_mib "$RSS_TOL_MIB" MiB)
FD_VERDICT=$(plateau fds_other "$FD_TOL" fds)
FD_RAW=$(plateau fds "$FD_TOL" fds)

# Stream checks: every /v1/stream client saw only its user's events, in order, once; no admin
# stream client saw a duplicate or a step back; the server closed none of them.
sum_field() { awk -v f="\"$2\":" '{ i = index($0, f); if (i) { s += substr($0, i + length(f)) + 0 } } END { print s + 0 }' "$1" 2>/dev/null || echo 0; }
count_rc() { awk -v rc="$2" '$1 == rc { n++ } END { print n + 0 }' "$1" 2>/dev/null || echo 0; }
ws_runs=$(wc -l <"$WORK/ws.log" 2>/dev/null || echo 0)
ad_runs=$(wc -l <"$WORK/admin.log" 2>/dev/null || echo 0)
ws_bad=$(($(sum_field "$WORK/ws.log" user_mismatches) + $(sum_field "$WORK/ws.log" duplicates) + $(sum_field "$WORK/ws.log" out_of_order) + $(sum_field "$WORK/ws.log" malformed)))
ad_bad=$(($(sum_field "$WORK/admin.log" duplicates) + $(sum_field "$WORK/admin.log" out_of_order) + $(sum_field "$WORK/admin.log" malformed)))
ws_closed=$(sum_field "$WORK/ws.log" closed_by_server)
ws_failed=$(($(count_rc "$WORK/ws.log" 1) + $(sum_field "$WORK/ws.log" connect_failed)))
ad_failed=$(count_rc "$WORK/admin.log" 1)
STREAMS=PASS
((ws_runs > 0 && ad_runs > 0 && ws_bad == 0 && ad_bad == 0 && ws_closed == 0 && ws_failed == 0 && ad_failed == 0)) || STREAMS=FAIL
INV=PASS
grep -q BROKEN <<<"$INVARIANT" && INV=FAIL
((DOUBLE_LEASES == 0)) || INV=FAIL
read -r t_orders t_conf t_canc t_exp t_res t_pay t_dead t_size <<<"$TOTALS"
sum_csv() { awk -F, -v col="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next } { s += $c } END { print s + 0 }' "$CSV"; }
max_csv() { awk -F, -v col="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next } $c + 0 > m { m = $c + 0 } END { print m + 0 }' "$CSV"; }

legend=$(
  echo "  (rss: VmRSS; fds: /proc/PID/fd; other: fds - established connections on the two listeners;"
  echo "   tcp_p/tcp_a: established on the public/admin port; cw: CLOSE-WAIT on them; pg: the service's"
  echo "   PostgreSQL backends; place/s, p50/p99 (ms, from each request's due time), errors: the minute's"
  echo "   flashsale-loadgen (errors = transport errors + 5xx); paid/cancel: the driver's; expired, promote:"
  echo "   leases that lapsed / were granted from a waiting line (database); ws_pub/ws_ad: open WebSockets)"
)
report=$(
  echo "soak: $MINUTES minute(s), placements $RATE/s open loop on ${ITEMS[*]} ($CONNECTIONS connections, new each minute), leases ${WINDOW}-$((WINDOW + 5)) s"
  printf '  %-34s %s\n' "RSS" "$RSS_VERDICT"
  printf '  %-34s %s\n' "descriptors (not connections)" "$FD_VERDICT"
  printf '  %-34s %s\n' "descriptors (all, for reference)" "$FD_RAW"
  printf '  %-34s %s\n' "after the clients left" "RSS $RSS_END MiB (peak VmHWM $HWM_END), $FDS_IDLE descriptors, established $TCP_IDLE (public/admin)"
  printf '  %-34s %s\n' "placements" "$(sum_csv reserved) reserved, $(sum_csv waiting) waiting, $(sum_csv sold_out) sold_out, $(sum_csv other_refusals) other refusals, $(sum_csv errors) errors; worst minute p99 $(max_csv p99_ms) ms"
  printf '  %-34s %s\n' "driver" "$(sum_csv paid) paid, $(sum_csv duplicates) duplicate webhooks, $(sum_csv pay_failed) failed payments, $(sum_csv refunds) late (refund_required; fake provider refunds: $REFUNDS), $(sum_csv cancelled) cancelled, $(sum_csv op_expired) expired by an operator, $(sum_csv conflicts) conflicts (409), $(sum_csv restocked) units restocked, $(sum_csv driver_errors) errors"
  printf '  %-34s %s\n' "leases" "$(sum_csv leases_granted) granted ($(sum_csv promoted) from a waiting line), $(sum_csv expired) lapsed or expired"
  printf '  %-34s %s\n' "database at the end" "$t_orders orders ($t_conf confirmed, $t_canc cancelled, $t_exp expired), $t_res reservations, $t_pay payment events, $t_size"
  printf '  %-34s %s\n' "jobs (kind state count)" "$JOBS"
  [[ $t_dead == 0 ]] || printf '  %-34s %s\n' "dead jobs" "$t_dead: $(tr '\n' ';' <<<"$DEAD_ERRORS")"
  printf '  %-34s %s\n' "/v1/stream clients" "$ws_runs batches, $(sum_field "$WORK/ws.log" connected) connections, $(sum_field "$WORK/ws.log" received_frames) frames; bad frames $ws_bad, closed by the server $ws_closed, failed $ws_failed"
  printf '  %-34s %s\n' "/admin/stream clients" "$ad_runs clients, $(sum_field "$WORK/admin.log" events) events; bad $ad_bad, failed $ad_failed"
  printf '  %-34s %s\n' "invariants on every item" "$INV$( [[ $INV == PASS ]] || echo " (item total available waiting active consumed waiting_orders state: $(tr '\n' ';' <<<"$INVARIANT"); double leases $DOUBLE_LEASES)")"
  printf '  %-34s %s\n' "streams" "$STREAMS"
  printf '  %-34s %s\n' "service exit status after SIGTERM" "$svc_rc"
  [[ -s $WORK/service-problems.txt ]] && printf '  %-34s %s\n' "service log" "$(wc -l <"$WORK/service-problems.txt") error lines after start-up (first 30 in the results file)"
  echo "  load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: other work moves latency, not the plateau)"
)
{
  echo
  echo "## per minute (also in $CSV)"
  cat "$WORK/table.txt"
  echo "$legend"
  echo
  echo "## summary"
  echo "$report"
  echo
  echo "## details"
  echo "invariants (item total_stock available waiting active consumed waiting_orders state):"
  echo "$INVARIANT"
  echo "wsbench runs (exit status, JSON):"; cat "$WORK/ws.log" 2>/dev/null || true
  echo "eventlag runs (exit status, JSON):"; cat "$WORK/admin.log" 2>/dev/null || true
  echo "every flashsale_* metric at the end (no histogram buckets):"
  grep -E '^flashsale_' "$WORK/metrics-end.txt" | grep -vE '_bucket\{' || true
  echo "service log lines with error/lost/too slow after start-up (first 30):"
  cat "$WORK/service-problems.txt"
  echo "service log (last 20 lines):"
  tail -20 "$WORK/service.log"
} >>"$RESULTS"
echo "$legend"
echo
echo "$report"
echo "results: $RESULTS"
echo "csv: $CSV"
# A list, not a command that fails: no ERR trap message for an expected verdict.
[[ $RSS_VERDICT != GROWING* && $FD_VERDICT != GROWING* && $INV == PASS && $STREAMS == PASS && $svc_rc == 0 ]] || exit 1
