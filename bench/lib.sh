# shellcheck shell=bash disable=SC2034  # variables set here are for the scripts that source it
# bench/lib.sh: start-up code shared by the benchmark scripts (hot_item.sh, lease_expiry.sh,
# cdc_lag.sh, ws_push.sh, cluster.sh, soak.sh, monitoring.sh, placement_sql.sh, job_drain.sh).
# Sourced, not run:
#
#   BENCH_NAME=cdc_lag                       # log prefix and temp folder name
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Sets ROOT, BUILD (BUILD_DIR, default build/), PG_BIN and RESULTS_DIR (both overridable), and
# defines (among others): log, die, as_postgres, bench_build, make_work_dir, pg_start_cluster,
# pg_stop_cluster, psql_db, start_service, stop_pid, stop_service, results_header,
# json_field, json_string, json_object, median. Each caller keeps its own cleanup trap (it knows its
# helpers); pg_stop_cluster and stop_pid are what such a trap calls.

: "${BENCH_NAME:?set BENCH_NAME before sourcing bench/lib.sh}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
RESULTS_DIR=${RESULTS_DIR:-$BUILD/bench-results}
FLASHSALE=$BUILD/bin/flashsale

WORK=""          # the throwaway folder (make_work_dir)
PGDATA=""
PG_PORT=""
PG_STARTED=0
SERVICE_PID=""
PUBLIC_PORT=""
ADMIN_PORT=""
PM_PID=""        # the postmaster (pg_start_cluster)
CHILD_PIDS=()    # background helpers a script started; its trap stops them (stop_pid)
EVENTLAG_PID=""

log() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
die() { echo "$BENCH_NAME: $*" >&2; exit 1; }
# For a flag that takes a value: the script defines usage().
need_value() { [[ $# -ge 2 && -n $2 ]] || { usage >&2; die "$1 needs a value"; }; }

as_postgres() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A port nothing listens on, below the kernel's range for outgoing connections (which the load
# generator churns through), and not handed out here before.
declare -A TAKEN=()
free_port() {  # sets FREE_PORT (not in a subshell: TAKEN must persist)
  local p
  while :; do
    p=$((10000 + RANDOM % 20000))
    [[ -z ${TAKEN[$p]:-} ]] && ! port_in_use "$p" && break
  done
  TAKEN[$p]=1
  FREE_PORT=$p
}

# bench_build FORCE TARGET...: configures BUILD if needed, then builds the targets plus every
# plugin (the host loads them at start-up) when FORCE is 1 or one of the targets' binaries
# (BUILD/bin/TARGET) is missing.
bench_build() {
  local force=$1 t missing=0 plugins
  shift
  for t in "$@"; do [[ -x $BUILD/bin/$t ]] || missing=1; done
  [[ $force == 1 || $missing == 1 ]] || return 0
  if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    log "configuring $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  plugins=$(cmake --build "$BUILD" --target help 2>/dev/null |
    grep -oE '^flashsale_(storage|event_source|event_stream|scheduler|push)_[a-z0-9_]+' | sort -u | tr '\n' ' ' || true)
  log "building $* $plugins"
  # shellcheck disable=SC2086
  cmake --build "$BUILD" --target "$@" $plugins -j "$(nproc)"
  for t in "$@"; do [[ -x $BUILD/bin/$t ]] || die "missing $BUILD/bin/$t after the build"; done
}

# make_work_dir: a fresh temp folder in WORK (the caller's trap removes it).
make_work_dir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/flashsale-${BENCH_NAME//_/-}.XXXXXX")
  chmod 755 "$WORK"
  PGDATA=$WORK/pgdata
}

# pg_start_cluster [CONF_LINE...]: initdb a PostgreSQL 15 cluster in PGDATA (as postgres when
# root), TCP on 127.0.0.1 and a free port only, trust authentication; the lines go to
# postgresql.conf (e.g. "max_connections = 300"). Sets PG_PORT and PG_STARTED=1.
pg_start_cluster() {
  local line candidate
  mkdir "$PGDATA"
  if [[ $(id -u) == 0 ]]; then chown postgres: "$PGDATA"; touch "$WORK/postgres.log"; chown postgres: "$WORK/postgres.log"; fi
  log "initdb in $PGDATA"
  as_postgres "$PG_BIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --no-locale >"$WORK/initdb.log" 2>&1 ||
    { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
  {
    echo "# bench/$BENCH_NAME.sh"
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = ''"
    for line in "$@"; do echo "$line"; done
  } >>"$PGDATA/postgresql.conf"
  PG_PORT=""
  for _ in 1 2 3 4 5; do
    candidate=$((20000 + RANDOM % 30000))
    port_in_use "$candidate" && continue
    echo "port = $candidate" >>"$PGDATA/postgresql.conf"  # the last one counts
    if as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$WORK/postgres.log" -w -t 60 start >/dev/null 2>&1; then
      PG_PORT=$candidate
      PG_STARTED=1
      PM_PID=$(head -1 "$PGDATA/postmaster.pid")
      return 0
    fi
    log "PostgreSQL did not start on port $candidate; trying another"
  done
  tail -20 "$WORK/postgres.log" >&2
  die "cannot start PostgreSQL"
}

pg_stop_cluster() {
  [[ $PG_STARTED == 1 ]] || return 0
  as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
    as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w -t 10 stop >/dev/null 2>&1
  PG_STARTED=0
}

psql_db() { psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }

# start_service DB LOG [VAR=VALUE...]: `flashsale serve` on database DB of the cluster, both
# listeners on 127.0.0.1 port 0, output to LOG, the assignments in its environment (other
# FLASHSALE_* variables of ours pass through). Reads the ports from its `listening:` line,
# waits for GET /readyz = 200 (which includes the event source streaming from its slot).
# Sets SERVICE_PID, PUBLIC_PORT, ADMIN_PORT.
start_service() {
  local db=$1 logfile=$2 line="" deadline
  shift 2
  env FLASHSALE_DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/$db" \
    FLASHSALE_HTTP_LISTEN=127.0.0.1:0 FLASHSALE_ADMIN_LISTEN=127.0.0.1:0 "$@" \
    "$FLASHSALE" serve >"$logfile" 2>&1 &
  SERVICE_PID=$!
  deadline=$((SECONDS + 90))
  while [[ -z $line ]]; do
    kill -0 "$SERVICE_PID" 2>/dev/null || { tail -30 "$logfile" >&2; die "flashsale exited during start-up"; }
    ((SECONDS < deadline)) || { tail -30 "$logfile" >&2; die "no 'listening:' line within 90 s"; }
    line=$(grep -soE 'listening: public http://127\.0\.0\.1:[0-9]+, admin http://127\.0\.0\.1:[0-9]+' "$logfile" | head -1 || true)
    [[ -n $line ]] || sleep 0.2
  done
  PUBLIC_PORT=$(sed -E 's/.*public http:\/\/127\.0\.0\.1:([0-9]+),.*/\1/' <<<"$line")
  ADMIN_PORT=$(sed -E 's/.*admin http:\/\/127\.0\.0\.1:([0-9]+).*/\1/' <<<"$line")
  deadline=$((SECONDS + 60))
  until [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PUBLIC_PORT/readyz" || true) == 200 ]]; do
    kill -0 "$SERVICE_PID" 2>/dev/null || { tail -30 "$logfile" >&2; die "flashsale exited before ready"; }
    ((SECONDS < deadline)) || { tail -30 "$logfile" >&2; die "/readyz not 200 within 60 s"; }
    sleep 0.2
  done
}

forget_pid() {  # drops one pid from CHILD_PIDS once it has been waited for
  local keep=() pid
  for pid in "${CHILD_PIDS[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
  CHILD_PIDS=("${keep[@]}")
}

# stop_pid PID SECONDS: SIGTERM, wait at most SECONDS, then SIGKILL (for a trap).
stop_pid() {
  local pid=$1 tenths=$(($2 * 10))
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 "$tenths"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

# stop_service: SIGTERM, wait up to 30 s for the drain, SIGKILL after; returns its exit status.
stop_service() {
  [[ -n $SERVICE_PID ]] || return 0
  local waited=0 rc=0
  kill -CONT "$SERVICE_PID" 2>/dev/null || true  # a frozen process would not act on SIGTERM
  kill -TERM "$SERVICE_PID" 2>/dev/null || true
  while kill -0 "$SERVICE_PID" 2>/dev/null && ((waited < 300)); do sleep 0.1; waited=$((waited + 1)); done
  if kill -0 "$SERVICE_PID" 2>/dev/null; then
    log "service still running 30 s after SIGTERM: SIGKILL"
    kill -KILL "$SERVICE_PID" 2>/dev/null || true
  fi
  wait "$SERVICE_PID" 2>/dev/null || rc=$?
  SERVICE_PID=""
  return "$rc"
}

# results_header: the first lines of a results file (title, machine, commit).
results_header() {
  echo "# bench/$BENCH_NAME.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (dirty tree)')"
}

# Fields of a flat JSON line (the tools' summaries), without jq.
json_field() { sed -nE "s/.*\"$1\":(-?[0-9.eE+-]+).*/\1/p" <<<"$2" | head -1; }
json_string() { sed -nE "s/.*\"$1\":\"([^\"]*)\".*/\1/p" <<<"$2" | head -1; }
json_object() { grep -oE "\"$1\":\{[^}]*\}" <<<"$2" | head -1 | cut -d: -f2- || true; }
type_count() {  # type_count OBJECT TYPE
  local n
  n=$(grep -oE "\"$2\":[0-9]+" <<<"$1" | head -1 | cut -d: -f2 || true)
  echo "${n:-0}"
}
metric_sum() { awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%.6g\n", s + 0 }' <<<"$2"; }

# p50/p99 estimated from a Prometheus histogram on stdin (linear inside the bucket; +Inf bucket
# reported as ">last bound"). usage: hist_pct METRIC_NAME < metrics.txt
hist_pct() {
  awk -v m="$1" '
    index($0, m "_bucket{") == 1 { match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5);
                                    n++; b[n] = le; c[n] = $NF + 0 }
    index($0, m "_count") == 1 { total = $NF + 0 }
    index($0, m "_sum") == 1 { sum = $NF + 0 }
    function pct(p,   i, t, lo, prev) {
      t = p * total; prev = 0; lo = 0
      for (i = 1; i <= n; i++) {
        if (c[i] >= t) {
          if (b[i] == "+Inf") return ">" b[i - 1] "s"
          return sprintf("%.3fs", lo + (b[i] - lo) * (c[i] > prev ? (t - prev) / (c[i] - prev) : 1))
        }
        prev = c[i]; lo = b[i]
      }
      return "-"
    }
    END { if (total == 0) { print "no observations"; exit }
          printf "count=%d mean=%.3fs p50~%s p99~%s\n", total, sum / total, pct(0.5), pct(0.99) }'
}

# --- flashsale-eventlag on GET /admin/stream (uses EVENTLAG, ADMIN_PORT, IDLE, CATCHUP_TIMEOUT,
# DB, WORK of the caller) -----------------------------------------------------------------
start_eventlag() {  # start_eventlag NAME MARKER USER_PREFIX MAX_SECONDS [MEASURE_FROM]; 1: no snapshot
  rm -f "$WORK/$1.ready"
  "$EVENTLAG" --port "$ADMIN_PORT" --duration "$4" --until-item "$2" --idle "${IDLE:?}" \
    ${5:+--measure-from "$5"} \
    --idle-after-usr1 --user-prefix "$3" --ready-file "$WORK/$1.ready" --progress \
    >"$WORK/$1.json" 2>"$WORK/$1.err" &
  EVENTLAG_PID=$!
  CHILD_PIDS+=("$EVENTLAG_PID")
  local deadline=$((SECONDS + 15))
  until [[ -f $WORK/$1.ready ]]; do
    if ! kill -0 "$EVENTLAG_PID" 2>/dev/null || ((SECONDS >= deadline)); then
      cat "$WORK/$1.err" >&2
      log "flashsale-eventlag got no snapshot (above)"
      stop_pid "$EVENTLAG_PID" 3
      forget_pid "$EVENTLAG_PID"
      return 1
    fi
    sleep 0.1
  done
}
# Waits for eventlag to stop by itself (marker seen, or IDLE s of silence after SIGUSR1);
# SIGTERM (stop and report) after CATCHUP_TIMEOUT s.
finish_eventlag() {
  kill -USR1 "$EVENTLAG_PID" 2>/dev/null || true
  local waited=0
  while kill -0 "$EVENTLAG_PID" 2>/dev/null && ((waited < CATCHUP_TIMEOUT * 10)); do sleep 0.1; waited=$((waited + 1)); done
  if kill -0 "$EVENTLAG_PID" 2>/dev/null; then
    log "the stream did not catch up within ${CATCHUP_TIMEOUT}s: stopping flashsale-eventlag"
    kill -TERM "$EVENTLAG_PID" 2>/dev/null || true
  fi
  wait "$EVENTLAG_PID" 2>/dev/null || true
  forget_pid "$EVENTLAG_PID"
}
insert_marker() {  # an item whose item.created event tells eventlag the load's events are all in
  psql_db -d "$DB" -c "INSERT INTO items (id, name, total_stock, available) VALUES ('$1', 'end marker', 0, 0)" >/dev/null
}

# --- time -------------------------------------------------------------------------------------
median() {  # median VALUE...: of the numbers in the words given ("-" left out); nothing if none
  printf '%s\n' "$@" | awk '{ for (i = 1; i <= NF; i++) if ($i != "-") print $i }' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
now() { date +%s.%N; }
sleep_until() { local d; d=$(awk -v t="$1" -v n="$(now)" 'BEGIN { d = t - n; printf "%.3f", (d > 0 ? d : 0) }'); sleep "$d"; }
secs_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# --- CPU accounting (clock ticks from /proc) -------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
proc_ticks() {  # utime+stime of one process (all threads); with "children": + reaped children
  local f
  f=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  f=${f##*) }  # fields from 3 on (the name may hold spaces)
  read -r -a a <<<"$f"
  if [[ ${2:-} == children ]]; then echo $((a[11] + a[12] + a[13] + a[14])); else echo $((a[11] + a[12])); fi
}
# tree_ticks PID: CPU clock ticks (CLK_TCK) of a process tree one level deep, from /proc: the
# process (utime+stime, all its threads) plus the children it has reaped (cutime+cstime) plus its
# live children (utime+stime). Sampled at both ends of a window, the difference is the CPU the
# process and all its children used in between, children that came or went included. One ps,
# one cat and one awk, so it stays quick with hundreds of backends.
tree_ticks() {
  local files=("/proc/$1/stat") c
  for c in $(ps -o pid= --ppid "$1"); do files+=("/proc/$c/stat"); done
  { cat "${files[@]}" 2>/dev/null || true; } | awk -v root="$1" '{
      q = 0
      for (i = length($0); i > 0; i--) if (substr($0, i, 1) == ")") { q = i; break }
      if (q == 0) next
      split(substr($0, q + 2), a, " ")          # a[1] is field 3 (state): utime is a[12]
      t += a[12] + a[13]
      if ($1 == root) t += a[14] + a[15]
    } END { print t + 0 }'
}
postgres_ticks() { tree_ticks "$PM_PID"; }  # the postmaster, its live and reaped children
# postgres_role_ticks: "pid role ticks" of every PostgreSQL process in pg_stat_activity now, its
# role being the plugin of a flashsale session's application_name ("flashsale/<node>/<plugin>":
# postgres, the storage; pg_queue, the job queue; pg_wal, the event source's queries),
# walsender (the CDC decoding), or the backend_type of the rest (autovacuum_worker, walwriter,
# client_backend: another client). Sampled at both ends of a window, role_split turns two of
# these into CPU per role.
postgres_role_ticks() {
  local pid role
  psql_db -d "$DB" -At -F ' ' -c "SELECT pid, CASE WHEN backend_type = 'walsender' THEN 'walsender'
      WHEN application_name LIKE 'flashsale/%/%' THEN split_part(application_name, '/', 3)
      ELSE replace(backend_type, ' ', '_') END FROM pg_stat_activity" 2>/dev/null |
    while read -r pid role; do echo "$pid $role $(proc_ticks "$pid")"; done
}
# role_split BEFORE AFTER TOTAL_TICKS ORDERS: "role µs, ..." per order, busiest first, from two
# postgres_role_ticks files; what no role accounts for (processes that ended in the window) is
# "exited". A process that came in the window counts from 0.
role_split() {
  awk -v total="$3" -v n="$4" -v hz="$CLK_TCK" 'NR == FNR { t[$1] = $3; next }
    { d = $3 - ($1 in t ? t[$1] : 0); if (d > 0) { sum[$2] += d; seen += d } }
    END { if (n + 0 <= 0) exit
          if (total - seen > 0) sum["exited"] = total - seen
          for (r in sum) printf "%.0f %s\n", sum[r] / hz * 1e6 / n, r }' "$1" "$2" |
    sort -rn | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }'
}
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }  # busy idle
proc_dump() {  # "pid ticks comm" of every process
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk '{
    p = index($0, "("); q = 0
    for (i = length($0); i > p; i--) if (substr($0, i, 1) == ")") { q = i; break }
    if (p == 0 || q == 0) next
    n = split(substr($0, q + 2), a, " ")
    comm = substr($0, p + 1, q - p - 1); gsub(/ /, "_", comm)
    print substr($0, 1, p - 2), a[12] + a[13], comm }'
}
top_processes() {  # top_processes BEFORE AFTER SECONDS: the 6 busiest commands in between
  awk 'NR == FNR { t[$1] = $2; next }
    { d = $2 - ($1 in t ? t[$1] : 0); if (d > 0) { sum[$3] += d; n[$3]++ } }
    END { for (c in sum) printf "%d %s %d\n", sum[c], c, n[c] }' "$1" "$2" |
    sort -rn | head -6 | awk -v hz="$CLK_TCK" -v s="$3" '{ printf "%s %.2f%s, ", $2, $1 / hz / s, ($3 > 1 ? " (" $3 " processes)" : "") }' |
    sed 's/, $//'
}
# The cluster's walsender (one replication connection: the service's event source).
walsender_pid() { psql_db -d "$DB" -At -c "SELECT pid FROM pg_stat_replication LIMIT 1" 2>/dev/null || true; }
# cpu_snapshot NAME: variables NAME_{svc,pg,wal,walpid,busy,idle} (ticks: the service, the
# cluster, its walsender; the machine busy and idle).
cpu_snapshot() {
  local busy idle wal
  read -r busy idle < <(machine_ticks)
  wal=$(walsender_pid)
  printf -v "${1}_svc" '%s' "$(proc_ticks "$SERVICE_PID")"
  printf -v "${1}_pg" '%s' "$(postgres_ticks)"
  printf -v "${1}_wal" '%s' "$([[ -n $wal ]] && proc_ticks "$wal" || echo 0)"
  printf -v "${1}_walpid" '%s' "$wal"
  printf -v "${1}_busy" '%s' "$busy"
  printf -v "${1}_idle" '%s' "$idle"
}
cores() { awk -v t="$1" -v s="$2" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (s > 0 ? t / hz / s : 0) }'; }
# Compilers running now (the machine is shared): they skew the figures.
compilers_running() {
  # shellcheck disable=SC2009  # counting by exact command name, pgrep -c -x would need one call each
  ps -e -o comm= | grep -cE '^(cc1plus|cc1|ld|collect2|clang|clang\+\+|lld|rustc)$' || true
}
# Other PostgreSQL clusters doing work now (another benchmark or a test suite): busy backends.
other_pg_busy() {
  ps -e -o ppid=,pcpu=,comm= | awk -v pm="$PM_PID" '$3 == "postgres" && $1 != pm && $1 != 1 && $2 >= 5 { n++ } END { print n + 0 }'
}
