#!/usr/bin/env bash
# The README's main job: installs dependencies, builds Release and runs
# reactor-bench on an embedded default: a 64 MiB temp file (removed
# afterwards), 4 KiB random reads at queue depth 32 from one lightweight
# thread per core, while the scheduler visits all three policies. Arguments
# replace the defaults' duration or add options: scripts/run.sh -t 20 --json
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install-deps.sh"
bdir="$root/build/release"
cmake -S "$root" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$bdir" -j"$(nproc)" --target reactor-bench
t=12
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t|--time) t="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
# Switch points at 1/4, 1/2 and 3/4 of the run: static -> dynamic -> global -> static.
sched=$(awk -v t="$t" 'BEGIN { printf "%g:dynamic,%g:global,%g:static", t/4, t/2, 3*t/4 }')
exec "$bdir/src/tools/reactor-bench" -t "$t" --switch-at "$sched" "${args[@]}"
