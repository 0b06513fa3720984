#!/usr/bin/env bash
# clang-tidy with the checks of .clang-tidy over a build that is already made (so its generated
# sources exist), every finding an error. CI runs it on the README's build (.ci/checks): no second
# compile of the tree. Diagnostics inside our headers count; those of system headers do not.
#
# usage: scripts/tidy.sh [--build DIR] [FILE...]
#   --build DIR  the build whose compile_commands.json names the files and flags (default: build)
#   FILE...      only these files (e.g. the ones you changed); default: every file of the build
# Exit status 0 when no file has a finding; each file with findings is named at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
if [ "${1:-}" = --build ]; then
  [ $# -ge 2 ] || { echo "tidy: --build needs a folder" >&2; exit 2; }
  build=$2
  shift 2
fi
db=$build/compile_commands.json
[ -f "$db" ] || { echo "tidy: no $db: build first (scripts/build.sh)" >&2; exit 2; }
command -v clang-tidy >/dev/null || { echo "tidy: clang-tidy is not installed (apt-get install clang-tidy)" >&2; exit 2; }

if (($#)); then
  files=$(realpath "$@")
else
  files=$(sed -n 's/^  "file": "\(.*\)"$/\1/p' "$db" | sort -u)
fi
count=$(wc -l <<<"$files")
failed=$(mktemp)
trap 'rm -f "$failed"' EXIT
# One clang-tidy per file, as many at once as there are cores. A file's output is shown only when
# it has findings (or does not compile); the others go on, so one run shows every finding.
check() {
  local out
  if out=$(clang-tidy -p "$build" --quiet --warnings-as-errors='*'     --header-filter="^$PWD/(server|common|plugins|admin-gui|bench|tests)/" "$1" 2>&1); then
    echo "tidy: ok ${1#"$PWD"/}"
  else
    grep -v '^[0-9]* warnings\{0,1\} generated\.$' <<<"$out"
    echo "tidy: FINDINGS in ${1#"$PWD"/}"
    echo "${1#"$PWD"/}" >>"$failed"
  fi
}
export -f check
export build failed
echo "tidy: $count files, $(nproc) at a time"
start=$SECONDS
xargs -d '\n' -P "$(nproc)" -n 1 bash -c 'check "$1"' _ <<<"$files"
if [ -s "$failed" ]; then
  echo "tidy: findings in $(wc -l <"$failed") of $count files ($((SECONDS - start)) s):"
  sed 's/^/  /' "$failed"
  exit 1
fi
echo "tidy: no finding in $count files ($((SECONDS - start)) s)"
