#!/usr/bin/env bash
# Runs documented shell examples against a live service and fails on the first that does not
# work. Each FILE is a Markdown file (its ```sh blocks) or a plain shell file; all of them run in
# order as one bash script with -e and pipefail, so a variable an example sets is seen by the
# examples after it. Every curl must succeed: a curl config of our own makes curl fail on an
# HTTP error status (4xx, 5xx) and print each answer's status on stderr; the commands themselves
# run exactly as written.
#
# usage: tests/docs/run_examples.sh FILE...
# Environment, for a service that is not on the documented addresses (the tests' own):
#   FLASHSALE_EXAMPLES_PUBLIC=HOST:PORT  replaces localhost:8080 and 127.0.0.1:8080
#   FLASHSALE_EXAMPLES_ADMIN=HOST:PORT   replaces localhost:8081 and 127.0.0.1:8081
#   FLASHSALE_EXAMPLES_BIN=DIR           replaces build/bin/ (where flashsale is)
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 FILE..." >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/.curlrc" <<'EOF'
fail-with-body
silent
show-error
write-out = "%{stderr}  -> HTTP %{http_code}\n"
EOF

# The examples, one block after the other, each announced by its first line.
script=$work/examples.sh
{
  echo 'set -euo pipefail'
  echo 'trap '\''echo "example failed (exit $?): $BASH_COMMAND" >&2'\'' ERR'
  for file in "$@"; do
    [ -f "$file" ] || { echo "run_examples: no file $file" >&2; exit 2; }
    if [[ "$file" == *.md ]]; then
      awk -v file="$file" '
        /^```sh[ \t]*$/ { inside = 1; first = 1; next }
        /^```/ && inside { inside = 0; print ""; next }
        inside {
          if (first) { print "cat <<\"__EXAMPLE__\"\n== " file ": " $0 "\n__EXAMPLE__"; first = 0 }
          print
        }' "$file"
    else
      printf 'cat <<"__EXAMPLE__"\n== %s\n__EXAMPLE__\n' "$file"
      cat "$file"
      echo
    fi
  done
} >"$script"

rewrite=()
[ -z "${FLASHSALE_EXAMPLES_PUBLIC:-}" ] ||
  rewrite+=(-e "s#\(localhost\|127\.0\.0\.1\):8080#$FLASHSALE_EXAMPLES_PUBLIC#g")
[ -z "${FLASHSALE_EXAMPLES_ADMIN:-}" ] ||
  rewrite+=(-e "s#\(localhost\|127\.0\.0\.1\):8081#$FLASHSALE_EXAMPLES_ADMIN#g")
[ -z "${FLASHSALE_EXAMPLES_BIN:-}" ] ||
  rewrite+=(-e "s#build/bin/#$FLASHSALE_EXAMPLES_BIN/#g")
((${#rewrite[@]} == 0)) || sed -i "${rewrite[@]}" "$script"

count=$(grep -c '^== ' "$script" || true)
CURL_HOME=$work bash "$script"
echo "run_examples: all $count examples worked"
