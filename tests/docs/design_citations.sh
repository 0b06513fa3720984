#!/usr/bin/env bash
# docs.design_citations: every source docs/design.md cites exists, so a claim cannot outlive the
# test, benchmark or code behind it. Checked, for each Markdown link [TEXT](TARGET):
#  - TARGET (relative to docs/) is a file or folder of the tree; a #anchor is a heading of it;
#  - TEXT `name`: "case" names a test of this build (`ctest -N`) and a case of its binary
#    (Catch2: --list-test-names-only; QTest: -functions, as `slot()`);
#  - TEXT `identifier` (a symbol, not a path) occurs in TARGET.
#   design_citations.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
root=$1
build=$2
doc=$root/docs/design.md
[[ -f $doc ]] || { echo "design_citations: no $doc" >&2; exit 1; }

# GitHub's anchor of a heading: lower case, punctuation dropped, spaces become hyphens.
anchors_of() {
  grep -E '^#+ ' "$1" | sed -E 's/^#+ +//' | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9 _-]//g; s/ /-/g'
}

registered=$(ctest --test-dir "$build" -N | sed -nE 's/^ *Test +#[0-9]+: (.*)$/\1/p')
declare -A cases=()
load_cases() {  # the case names one test binary lists, into cases[TEST]
  local test=$1 bin
  if [[ -z ${cases[$test]+x} ]]; then
    bin=$(find "$build" -type f -perm -u+x \( -name "test_$test" -o -name "test_${test//./_}" \) |
            head -1)
    [[ -n $bin ]] || { echo "design_citations: no binary for test $test in $build" >&2; exit 1; }
    if [[ $test == admin_gui.* ]]; then
      cases[$test]=$(QT_QPA_PLATFORM=offscreen "$bin" -functions 2>/dev/null)
    else
      cases[$test]=$("$bin" --list-test-names-only)
    fi
  fi
}

errors=0
fail() { echo "docs/design.md: $*" >&2; errors=$((errors + 1)); }
links=0 tests=0 symbols=0
# One link per line; a link's text may have wrapped onto the next line of the paragraph.
while IFS=$'\t' read -r text target; do
  links=$((links + 1))
  path=${target%%#*}
  anchor=${target#"$path"}
  anchor=${anchor#\#}
  file=$root/docs/$path
  [[ -z $path ]] && file=$doc
  if [[ ! -e $file ]]; then
    fail "[$text]($target): no such file or folder"
    continue
  fi
  if [[ -n $anchor ]] && ! anchors_of "$file" | grep -qxF -- "$anchor"; then
    fail "[$text]($target): no heading with anchor #$anchor in $path"
  fi
  if [[ $text =~ ^\`([a-z_]+(\.[a-z_0-9]+)+)\`:\ \"(.+)\"$ ]]; then
    test=${BASH_REMATCH[1]} case=${BASH_REMATCH[3]}
    tests=$((tests + 1))
    if ! grep -qxF -- "$test" <<<"$registered"; then
      fail "[$text]: no test named $test in this build (ctest -N)"
    elif load_cases "$test" && ! grep -qxF -- "$case" <<<"${cases[$test]}"; then
      fail "[$text]: $test has no case \"$case\""
    fi
  elif [[ $text =~ ^\`([A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*)\`$ && -f $file ]]; then
    symbols=$((symbols + 1))
    grep -qF -- "${BASH_REMATCH[1]##*::}" "$file" || fail "[$text]($target): not in $path"
  fi
done < <(tr '\n' ' ' <"$doc" | grep -oE '\[[^]]+\]\([^) ]+\)' |
           sed -E 's/^\[(.*)\]\((.*)\)$/\1\t\2/; s/  +/ /g')

((links >= 50)) || fail "only $links links: has the citation format changed?"
if ((errors > 0)); then
  echo "docs/design.md: $errors citation(s) name nothing (above)" >&2
  exit 1
fi
echo "docs/design.md: $links links resolve ($tests test cases, $symbols symbols)"
