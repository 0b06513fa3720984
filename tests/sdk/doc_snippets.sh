#!/usr/bin/env bash
# sdk.doc_snippets: each code block of docs/plugin-sdk.md marked `<!-- verbatim: PATH -->` is the
# file PATH byte for byte, so the walkthrough shows the code CI builds and tests.
#   doc_snippets.sh SOURCE_DIR
set -euo pipefail
root=$1
doc=$root/docs/plugin-sdk.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v out="$tmp" '
  /^<!-- verbatim: [^ ]+ -->$/ { path = $3; n++; next }
  path != "" && !inside && /^```/ { inside = 1; print path > (out "/" n ".path"); printf "" > (out "/" n); next }
  inside && /^```$/ { inside = 0; path = ""; next }
  inside { print > (out "/" n) }
' "$doc"
count=0
for marker in "$tmp"/*.path; do
  [[ -e $marker ]] || break
  path=$(cat "$marker")
  if ! diff -u "$root/$path" "${marker%.path}"; then
    echo "docs/plugin-sdk.md: the block marked $path is not that file (diff above)" >&2
    exit 1
  fi
  count=$((count + 1))
done
((count >= 3)) || { echo "docs/plugin-sdk.md: expected 3 verbatim blocks, found $count" >&2; exit 1; }
echo "docs/plugin-sdk.md: $count verbatim blocks match their files"
