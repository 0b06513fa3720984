#!/usr/bin/env bash
# Installs the Debian 12 packages flashsale needs to build, run and test it; only the missing
# ones, so a second run is instant. Works as root or as a user with sudo. Installs without
# "recommends", so every package needed is named here: scripts/fresh-machine.sh proves the list
# on a brand-new Debian 12 root (CI runs it), where nothing else is installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build git
  libboost1.81-dev            # Beast, Asio, DLL (header-only; conflicts with 1.74)
  libpq-dev postgresql        # client library, and initdb/pg_ctl for the embedded cluster
  libssl-dev                  # SHA-256 and HMAC
  nlohmann-json3-dev prometheus-cpp-dev
  catch2 clang-format         # tests and the style check
  prometheus                  # promtool, which checks /metrics in a test
  curl jq                     # scripts/run.sh, and the examples of docs/api.md
  qt6-base-dev qt6-websockets-dev qt6-charts-dev  # the dashboard (admin-gui/)
  libqt6opengl6-dev           # Qt6Charts needs Qt6OpenGL, but its -dev package only recommends it
  fonts-dejavu-core           # readable text in the dashboard's offscreen screenshots
  libnats-dev                 # the NATS C client (JetStream), for the event_stream plugin
  nats-server haproxy         # many replicas: the event stream, and the proxy of scripts/cluster.sh
  clang libclang-rt-14-dev    # scripts/fuzz.sh; libFuzzer is in the second, which clang omits
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
