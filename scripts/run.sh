#!/usr/bin/env bash
# README command 1: installs what is missing, builds, and runs the service on a private
# PostgreSQL (data in ./var/pg). Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/bin/flashsale serve "$@"
