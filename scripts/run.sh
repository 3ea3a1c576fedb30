#!/usr/bin/env bash
# The README's main job: installs dependencies, builds Release and runs the
# reactor demo on every core of this machine. Extra arguments go to the program.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install-deps.sh"
bdir="$root/build/release"
cmake -S "$root" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$bdir" -j"$(nproc)" --target reactor-demo
exec "$bdir/src/tools/reactor-demo" "$@"
