#!/usr/bin/env bash
# Configures and builds into build/ (binaries in build/bin, plugins in build/lib/flashsale).
# With CI=true (as CI systems set it) a compiler warning fails the build (FLASHSALE_WERROR).
set -euo pipefail
cd "$(dirname "$0")/.."
options=(-G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}")
[ "${CI:-}" != true ] || options+=(-DFLASHSALE_WERROR=ON)
if ! cmake -S . -B build "${options[@]}" >/dev/null; then
  echo "build: CMake could not configure the build (above): a package it needs is missing;" \
    "scripts/install-deps.sh should install it" >&2
  exit 1
fi
cmake --build build -j "$(nproc)"
