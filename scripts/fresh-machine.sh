#!/usr/bin/env bash
# The fresh-machine check (SPEC §11): proves the README's two commands on a brand-new Debian 12.
# It makes a minimal root with debootstrap (mirror taken from this machine's apt sources), clones
# this repository's HEAD into it as a newcomer would (/root/flashsale), and runs there, as root:
#   1. scripts/test.sh, to the end;
#   2. scripts/run.sh, in a network namespace of its own (its ports are fixed), until the demo
#      sale has printed its summary and /readyz answers 200; then the curl examples it printed
#      and those of docs/api.md, as written; then Ctrl-C (SIGINT to its process group): the
#      service must drain, the embedded PostgreSQL stop, and the exit status be 0.
#      Step 2 runs twice on the same data folder: a second run must hold no surprise.
# Each step prints its time; a failing step prints the last lines of its log. Mounts and
# processes are cleaned up on every exit path, Ctrl-C included. CI runs this (.ci/run).
#
# usage: scripts/fresh-machine.sh [--dir DIR] [--keep] [--also CMD]
#   --dir DIR  make the root in DIR (must not exist yet); default: a new folder in /var/tmp
#   --keep     leave the root (and its logs) in place afterwards, e.g. to chroot into it
#   --also CMD after the README's commands, run CMD in the clone in the root, as a step of its
#              own (CI's further checks: .ci/checks)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '[fresh-machine %s] %s\n' "$(date +%T)" "$*"; }
die() { say "FAILED: $*" >&2; exit 1; }

root=""
keep=0
also=""
while (($#)); do
  case "$1" in
    --dir) [ $# -ge 2 ] || die "--dir needs a folder"; root=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --also) [ $# -ge 2 ] || die "--also needs a command"; also=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# --- What the host must offer. None of it falls back to the host's own packages. -------------
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mounts): run it with sudo"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
for tool in git unshare ip curl; do
  command -v "$tool" >/dev/null || die "$tool is not installed on this machine"
done

# The Debian mirror and suites of this machine's own apt sources (one-line and deb822 formats),
# as "URI SUITE COMPONENTS" lines, bookworm suites only.
apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) \(bookworm[^ ]*\) \(.*\)$/\2 \3 \4/p' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'function flush() {
           if (types ~ /(^| )deb( |$)/ && enabled != "no")
             for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++)
               if (suite[s] ~ /^bookworm/) print uri[u], suite[s], comps
           types = ""; nu = ns = 0; comps = ""; enabled = ""
         }
         /^[ \t]*$/ { flush(); next }
         /^#/ { next }
         tolower($1) == "types:" { $1 = ""; types = $0 }
         tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uri[++nu] = $i }
         tolower($1) == "suites:" { for (i = 2; i <= NF; i++) suite[++ns] = $i }
         tolower($1) == "components:" { $1 = ""; sub(/^ /, ""); comps = $0 }
         tolower($1) == "enabled:" { enabled = tolower($2) }
         END { flush() }' "$f"
  done
}
sources=$(apt_sources | sort -u)
mirror=$(awk '$2 == "bookworm" { print $1; exit }' <<<"$sources")
[ -n "$mirror" ] || die "no Debian bookworm mirror in /etc/apt/sources.list{,.d/}: cannot make a Debian 12 root"

if [ -z "$root" ]; then
  root=$(mktemp -d /var/tmp/flashsale-fresh.XXXXXX)
else
  [ ! -e "$root" ] || die "$root exists already: give a new folder"
  mkdir -p "$root"
fi
root=$(cd "$root" && pwd)
logs=$root.logs
mkdir -p "$logs"
chmod 755 "$root"  # the embedded cluster runs as the postgres user inside

# --- Cleanup, on every exit path --------------------------------------------------------------
# Processes whose root directory is the fresh root (the service, PostgreSQL, stray daemons).
processes_inside() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"
  done
  return 0
}
# Mount points inside the fresh root, deepest last.
mounts_inside() {
  awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  local pids
  pids=$(processes_inside)
  if [ -n "$pids" ]; then
    kill -TERM $pids 2>/dev/null
    sleep 2
    pids=$(processes_inside)
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null && sleep 1
  fi
  local m
  for m in $(mounts_inside | tac); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  if ((keep)) || ((rc != 0)); then
    say "left in place: the root $root, the step logs $logs"
  else
    rm -rf "$root" "$logs"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# --- Steps --------------------------------------------------------------------------------------
# step NAME COMMAND...: runs COMMAND with its output in a log of its own; prints the time taken,
# a progress line every minute, and on failure the log's last lines.
step_no=0
step() {
  local name=$1
  shift
  local log
  step_no=$((step_no + 1))
  log=$logs/$(printf '%02d' "$step_no")-$(tr -c 'a-z0-9\n' '-' <<<"${name,,}" | tr -s '-').log
  local start=$SECONDS
  say "step $step_no: $name"
  "$@" >"$log" 2>&1 &
  local job=$! rc=0 next=60
  while kill -0 "$job" 2>/dev/null; do
    sleep 1
    if ((SECONDS - start >= next)); then
      say "  ... $((SECONDS - start)) s: $(tail -n 1 "$log" | cut -c1-110)"
      next=$((next + 60))
    fi
  done
  wait "$job" || rc=$?
  if ((rc != 0)); then
    say "step $step_no FAILED after $((SECONDS - start)) s (exit $rc): $name"
    echo "----- last 40 lines of $log"
    tail -n 40 "$log"
    echo "-----"
    exit 1
  fi
  say "step $step_no done in $((SECONDS - start)) s"
}

# A shell in the fresh root, as a newcomer's root login would have it (nothing from this one but
# CI=true when CI runs this: then the build fails on a compiler warning, scripts/build.sh).
in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb \
    LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    ${CI:+CI="$CI"} /bin/bash -c "$1"
}

make_root() {
  debootstrap --variant=minbase bookworm "$root" "$mirror"
}

prepare_root() {
  # The machine's own Debian sources (mirror, updates, security), as a new install has them.
  awk '{ s = $1; $1 = ""; print "deb " s $0 }' <<<"$sources" >"$root/etc/apt/sources.list"
  cat "$root/etc/apt/sources.list"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  # Packages installed here must not start daemons that would escape into this machine.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  mount -t proc proc "$root/proc"
  mount -t sysfs sysfs "$root/sys"
  mount --bind /dev "$root/dev"
  mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
  mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
  mounts_inside
}

clone_repo() {
  [ -z "$(git -C "$repo" status --porcelain)" ] ||
    echo "note: uncommitted changes are not part of this check (it clones HEAD)"
  git clone --no-hardlinks "$repo" "$root/root/flashsale"
  git -C "$root/root/flashsale" log -1 --oneline
}

# README command 1, as a newcomer runs it, in a network namespace of its own (run.sh uses the
# fixed ports 8080 and 8081) and a process group of its own (setsid; its id is run_pid), which
# gets the Ctrl-C. The shell around it writes run.sh's exit status to /root/run.status.
run_pid=""
run_log=""
start_run() {
  run_log=$logs/run-$1.out
  rm -f "$root/root/run.status"
  unshare --net -- /bin/bash -c 'ip link set lo up && exec "$@"' - \
    chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb \
    LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /usr/bin/setsid /bin/bash -c 'cd /root/flashsale && scripts/run.sh; echo $? >/root/run.status' \
    >"$run_log" 2>&1 &
  run_pid=$!
}

# Runs a command in run.sh's network namespace, inside the root.
in_run_net() {
  nsenter --net="/proc/$run_pid/ns/net" -- chroot "$root" /usr/bin/env -i HOME=/root \
    TERM=dumb LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "$1"
}

wait_for_demo() {
  local deadline=$((SECONDS + 600))
  until grep -q '^The service keeps running' "$run_log"; do
    kill -0 "$run_pid" 2>/dev/null || { cat "$run_log"; echo "run.sh ended early"; return 1; }
    ((SECONDS < deadline)) || { cat "$run_log"; echo "no demo summary in 600 s"; return 1; }
    sleep 1
  done
  cat "$run_log"
  in_run_net 'curl -sS -f -o /dev/null -w "GET /readyz: %{http_code}\n" http://127.0.0.1:8080/readyz'
}

# The curl examples run.sh printed (its "Try:" list) and those of docs/api.md, as written.
run_examples() {
  sed -n '/^The service keeps running/,/^Leases last/p' "$run_log" |
    sed -e '1d' -e '$d' >"$root/root/run-examples.sh"
  in_run_net 'cd /root/flashsale && tests/docs/run_examples.sh /root/run-examples.sh docs/api.md'
}

# Ctrl-C, as a terminal sends it: SIGINT to the whole process group; then run.sh's exit status.
stop_run() {
  kill -INT -- "-$run_pid"
  local deadline=$((SECONDS + 60))
  until [ -s "$root/root/run.status" ]; do
    if ! kill -0 "$run_pid" 2>/dev/null || ((SECONDS >= deadline)); then
      tail -n 20 "$run_log"
      echo "run.sh left no exit status within 60 s of the SIGINT (killed by the signal, or hung)"
      return 1
    fi
    sleep 0.2
  done
  local rc
  rc=$(cat "$root/root/run.status")
  tail -n 8 "$run_log"
  [ "$rc" = 0 ] || { echo "run.sh exited with status $rc, not 0"; return 1; }
  grep -q 'listeners drained' "$run_log" || { echo "the service did not drain"; return 1; }
  grep -q 'embedded PostgreSQL: stopped' "$run_log" || { echo "the embedded PostgreSQL did not stop"; return 1; }
  local data
  data=$(sed -n 's/.*embedded PostgreSQL: running at .*, data in \([^ ]*\).*/\1/p' "$run_log" | tail -n 1)
  [ -n "$data" ] && [ -f "$root$data/PG_VERSION" ] || { echo "no data folder named in the log"; return 1; }
  [ ! -e "$root$data/postmaster.pid" ] || { echo "$data/postmaster.pid is still there"; return 1; }
  local left
  left=$(processes_inside)
  [ -z "$left" ] || { ps -o pid,args -p "${left//$'\n'/,}"; echo "processes left running"; return 1; }
  echo "exit status 0; drained; PostgreSQL stopped; nothing left running"
}

total=$SECONDS
say "root $root, mirror $mirror"
step "debootstrap a minimal Debian 12 (bookworm)" make_root
step "prepare the root (apt sources, mounts)" prepare_root
step "clone the repository into /root/flashsale" clone_repo
step "README command 2: scripts/test.sh" in_root 'cd /root/flashsale && scripts/test.sh'
for run in first second; do
  start_run "$run"
  step "README command 1 ($run run): scripts/run.sh until the demo is ready" wait_for_demo
  step "the curl examples of run.sh and docs/api.md ($run run)" run_examples
  step "Ctrl-C: drain and stop ($run run)" stop_run
done
if [ -n "$also" ]; then
  step "and then: $also" in_root "cd /root/flashsale && $also"
fi
say "passed in $((SECONDS - total)) s"
