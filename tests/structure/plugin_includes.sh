#!/usr/bin/env bash
# structure.plugin_includes: a plugin uses the SDK and the helpers of common/, never the host's
# own code (ENGINEERING.md, "Layout"). Every #include "..." of a plugin must stay inside its own
# folder, and every #include <flashsale/...> must be an SDK header or a common/ helper.
#   plugin_includes.sh SOURCE_DIR
set -euo pipefail
root=$(cd "$1" && pwd)
bad=0
while IFS= read -r -d '' file; do
  dir=$(dirname "$file")
  plugin=$(cut -d/ -f1-3 <<<"${file#"$root"/}")  # plugins/<kind>/<name> or examples/<name>
  [[ $plugin == examples/* ]] && plugin=$(cut -d/ -f1-2 <<<"$plugin")
  while IFS= read -r line; do
    target=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([^">]+)[">].*/\1/' <<<"$line")
    if [[ $line == *'"'* ]]; then
      resolved=$(realpath -m "$dir/$target")
      if [[ $resolved != "$root/$plugin/"* ]]; then
        echo "$file: #include \"$target\" reaches outside $plugin/" >&2
        bad=1
      fi
    elif [[ $target == flashsale/* ]]; then
      found=0
      for include_dir in "$root"/server/include "$root"/common/*/include; do
        if [[ -e $include_dir/$target ]]; then
          [[ $include_dir == "$root/server/include" && $target != flashsale/sdk/* ]] || found=1
        fi
      done
      if ((!found)); then
        echo "$file: #include <$target> is neither an SDK header nor a common/ helper" >&2
        bad=1
      fi
    fi
  done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$file" || true)
done < <(find "$root/plugins" "$root/examples" \( -name '*.cpp' -o -name '*.hpp' \) -print0 | sort -z)
if ((bad)); then exit 1; fi
echo "plugins include only their own files, the SDK and common/"
