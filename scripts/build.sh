#!/usr/bin/env bash
# Configures and builds into build/ (binaries in build/bin, plugins in build/lib/flashsale).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j "$(nproc)"
