#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs every test (CI runs this).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j 2 "$@"
