#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds the README's
# embedding example twice against it (CMake package and reactor.pc) and runs it,
# then builds and runs the daemon example (coroutine echo server).
# Usage: install_consumer.sh <build-dir> <source-dir>
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
# The example is the ```cpp block right after the <!-- embed-example --> marker.
awk '/<!-- embed-example -->/{f=1;next} f&&/^```cpp/{p=1;next} p&&/^```/{exit} p{print}' "$src/README.md" > "$work/embed.cc"
test -s "$work/embed.cc" || { echo "no embedding example found in README.md" >&2; exit 1; }
cp "$src/tests/integration/consumer/CMakeLists.txt" "$work/"
cmake -S "$work" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib:${LD_LIBRARY_PATH:-}" "$work/build/embed"
# pkg-config route
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" c++ -std=c++20 "$work/embed.cc" -o "$work/embed-pc" \
  $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs reactor)
LD_LIBRARY_PATH="$work/prefix/lib:${LD_LIBRARY_PATH:-}" "$work/embed-pc" >/dev/null
# The daemon example (coroutines and sockets), through pkg-config.
awk '/<!-- daemon-example -->/{f=1;next} f&&/^```cpp/{p=1;next} p&&/^```/{exit} p{print}' "$src/README.md" > "$work/daemon.cc"
test -s "$work/daemon.cc" || { echo "no daemon example found in README.md" >&2; exit 1; }
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" c++ -std=c++20 "$work/daemon.cc" -o "$work/daemon" \
  $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs reactor)
LD_LIBRARY_PATH="$work/prefix/lib:${LD_LIBRARY_PATH:-}" "$work/daemon" | grep -q "echoed: hello, reactor"
echo "install consumer: OK (cmake package and pkg-config; the daemon example echoed)"
