#!/usr/bin/env bash
# Builds reactor and runs its whole test suite (the README's test command).
#   scripts/test.sh                      Release build, every test
#   scripts/test.sh --sanitize address,undefined
#   scripts/test.sh --sanitize thread --label concurrent
# Options: --build-dir DIR, --label L (ctest -L), --no-deps (skip apt step).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
san=""
label=""
bdir=""
deps=1
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) san="$2"; shift 2 ;;
    --label) label="$2"; shift 2 ;;
    --build-dir) bdir="$2"; shift 2 ;;
    --no-deps) deps=0; shift ;;
    *) echo "test.sh: unknown option '$1' (see the header of scripts/test.sh)" >&2; exit 2 ;;
  esac
done
[ "$deps" -eq 1 ] && bash "$root/scripts/install-deps.sh"
type=Release
bench=ON
if [ -n "$san" ]; then
  type=RelWithDebInfo
  bench=OFF
fi
[ -n "$bdir" ] || bdir="$root/build/${san:-release}"
bdir=${bdir//,/-}
cmake -S "$root" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=$type -DREACTOR_WERROR=ON \
  -DREACTOR_SANITIZE="${san//,/;}" -DREACTOR_BUILD_BENCH=$bench >/dev/null
cmake --build "$bdir" -j"$(nproc)"
args=(--test-dir "$bdir" --output-on-failure -j2 --timeout 600)
[ -n "$label" ] && args+=(-L "$label")
# ThreadSanitizer cannot map its shadow memory with the high ASLR entropy of
# recent kernels; running without address randomisation avoids that.
if [[ "$san" == *thread* ]] && command -v setarch >/dev/null; then
  setarch "$(uname -m)" -R ctest "${args[@]}"
else
  ctest "${args[@]}"
fi
