#!/usr/bin/env bash
# Opens the operators' dashboard (build/bin/flashsale-admin) on a running service's admin API,
# by default the one scripts/run.sh starts (http://127.0.0.1:8081); builds it first if needed.
# Arguments go to flashsale-admin: another address first, then e.g. --item ID (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f build/build.ninja ] ||
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j "$(nproc)" --target flashsale-admin

if [ $# -eq 0 ] || [[ "$1" == -* ]]; then
  set -- http://127.0.0.1:8081 "$@"
fi
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}${QT_QPA_PLATFORM:-}" ]; then
  echo "admin-gui: no display (DISPLAY is not set). Without one, take a picture instead:" >&2
  echo "  QT_QPA_PLATFORM=offscreen $0 $* --screenshot dashboard.png" >&2
  exit 1
fi
exec build/bin/flashsale-admin "$@"
