#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang, ASan + UBSan) in build-fuzz/ and runs each for
# SECONDS (default 60) on a copy of its seed corpus, as many at a time as there are cores, then
# prints one line per target. Exits non-zero on any crash, leak, timeout or out-of-memory, naming
# the file that reproduces it. Installs nothing (scripts/install-deps.sh does). See fuzz/README.md.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
targets=(http_request api_body webhook config pgoutput)

for tool in cmake:cmake ninja:ninja-build clang++:clang; do
  command -v "${tool%%:*}" >/dev/null || { echo "fuzz: missing package ${tool#*:}" >&2; exit 1; }
done
# clang installs without libFuzzer's runtime (Debian ships it apart, not even recommended).
runtime=$(clang++ -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a
[ -e "$runtime" ] || { echo "fuzz: missing package libclang-rt-14-dev (no $runtime)" >&2; exit 1; }

started=$SECONDS
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target fuzzers -j "$(nproc)"
echo "fuzz: built in $((SECONDS - started)) s"

run=build-fuzz/run
rm -rf "$run"
# One target per core at a time: each still gets its SECONDS, and a 2-core machine is done in
# half the time.
fuzz_one() {
  local t=$1 rc=0 dict=()
  # The tree's seeds stay as they are: the run grows a copy.
  mkdir -p "$run/$t/corpus" "$run/$t/findings"
  cp fuzz/corpus/"$t"/* "$run/$t/corpus/"
  [ -e "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")
  build-fuzz/bin/fuzz_"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$run/$t/findings/" "${dict[@]}" "$run/$t/corpus" \
    >"$run/$t/log" 2>&1 || rc=$?
  echo "$rc" >"$run/$t/rc"
}
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= $(nproc))); do wait -n || true; done
  fuzz_one "$t" &
done
wait

failed=0
summary=()
for t in "${targets[@]}"; do
  rc=$(cat "$run/$t/rc" 2>/dev/null || echo "?")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/$t/log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$run/$t/log")
  # No status line at all when an input of the seeds already crashes.
  last=$(grep -E '^#[0-9]+' "$run/$t/log" | tail -n 1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  findings=$(find "$run/$t/findings" -type f | sort)
  count=$(grep -c . <<<"$findings" || true)
  line=$(printf '%-13s execs %-9s exec/s %-6s cov %-5s ft %-6s crashes %s' "$t" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "${ft:-?}" "$count")
  if [[ $rc != 0 ]] || ((count > 0)); then
    failed=1
    line+=" FAILED (exit $rc; log $run/$t/log)"
    for f in $findings; do line+=$'\n'"  reproduce: build-fuzz/bin/fuzz_$t $f"; done
    tail -n 40 "$run/$t/log" >&2
  fi
  summary+=("$line")
done

echo "fuzz: ${seconds} s per target, $((SECONDS - started)) s in all"
printf '%s\n' "${summary[@]}"
exit "$failed"
