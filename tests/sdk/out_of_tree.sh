#!/usr/bin/env bash
# sdk.out_of_tree: an integrator's plugin, built against the installed SDK only.
#   out_of_tree.sh BUILD_DIR SOURCE_DIR CXX_COMPILER GENERATOR [MAKE_PROGRAM]
# In a fresh temporary folder: installs BUILD_DIR (host, plugins, SDK, CMake package), copies
# examples/push_hello there, configures it with only the install prefix to find flashsale,
# builds it, runs its tests (the SDK test helpers, and the installed host accepting the plugin
# and refusing it with a bad config), installs it beside the host's plugins and has the host
# find it by name as `plugins.load` would.
set -euo pipefail
build_dir=$1 source_dir=$2 cxx=$3 generator=$4 make_program=${5:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/flashsale-sdk-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
step() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "install $build_dir into $prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$tmp/install.log" || {
  cat "$tmp/install.log"
  fail "cmake --install failed"
}
for f in bin/flashsale bin/flashsale-admin include/flashsale/sdk/plugin.hpp \
  include/flashsale/sdk/settings.hpp include/flashsale/sdk/testing.hpp \
  lib/cmake/flashsale/flashsaleConfig.cmake lib/cmake/flashsale/flashsaleConfigVersion.cmake \
  lib/cmake/flashsale/FlashsaleSdkVersions.cmake lib/flashsale/flashsale_push_log.so; do
  [[ -e $prefix/$f ]] || fail "the install has no $f"
done
# The helpers of common/ are not SDK (docs/plugin-sdk.md, "What a plugin may use").
for f in include/flashsale/pg include/flashsale/http_client.hpp include/flashsale/crypto.hpp; do
  [[ ! -e $prefix/$f ]] || fail "$f was installed, but the helpers of common/ are not SDK"
done

step "configure and build examples/push_hello out of tree"
cp -r "$source_dir/examples/push_hello" "$tmp/src"
configure=(cmake -S "$tmp/src" -B "$tmp/build" -G "$generator" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix")
[[ -z $make_program ]] || configure+=(-DCMAKE_MAKE_PROGRAM="$make_program")
"${configure[@]}"
# Everything must come from the prefix: no include folder or module of the source tree.
if grep -F -- "$source_dir/" "$tmp/build/build.ninja" "$tmp/build/CMakeCache.txt" 2>/dev/null; then
  fail "the out-of-tree build refers to the source tree $source_dir"
fi
cmake --build "$tmp/build" --parallel 2
[[ -f $tmp/build/lib/flashsale/flashsale_push_hello.so ]] ||
  fail "flashsale_add_plugin did not put the plugin in <build>/lib/flashsale"

step "run its tests"
ctest --test-dir "$tmp/build" --output-on-failure --no-tests=error | tee "$tmp/ctest.log"
grep -q "tests passed, 0 tests failed out of 3" "$tmp/ctest.log" ||
  fail "expected 3 tests (hello.unit, hello.host_accepts, hello.host_refuses_bad_config)"

step "install it beside the host's plugins; the host finds it by name"
cmake --install "$tmp/build" --prefix "$prefix" >/dev/null
out=$("$prefix/bin/flashsale" check-plugin flashsale_push_hello)
echo "$out"
[[ $out == "plugin $prefix/lib/flashsale/flashsale_push_hello.so accepted: push 'hello' 1.0.0"* ]] ||
  fail "the installed host did not accept flashsale_push_hello from its lib/flashsale"
"$prefix/bin/flashsale" check-plugin flashsale_push_log >/dev/null ||
  fail "the installed host did not find its own push/log plugin"
if "$prefix/bin/flashsale" check-plugin flashsale_push_nothing 2>"$tmp/refused.txt"; then
  fail "check-plugin accepted a plugin that does not exist"
fi
grep -q "flashsale_push_nothing.so refused: file not found" "$tmp/refused.txt" ||
  fail "unexpected refusal: $(cat "$tmp/refused.txt")"
echo "out-of-tree plugin build OK"
