#!/usr/bin/env bash
# Builds reactor and runs its whole test suite (the README's test command).
#   scripts/test.sh                      Release build, every test
#   scripts/test.sh --sanitize address,undefined
#   scripts/test.sh --sanitize thread --label concurrent
# Options: --build-dir DIR, --label L (ctest -L), --no-deps (skip apt step).
#
# CI time (.ci/run, 2 vCPUs): the sanitizer builds are what it spends, so
#   - sanitizer builds are RelWithDebInfo at SAN_OPT (default "-O1 -g1"):
#     -g1 keeps the line tables, so ASan/UBSan/TSan stacks still name
#     file:line, inlined frames included, without the variable and type DWARF
#     of -g. Measured with gcc 12 and ASan+UBSan, CPU seconds of one
#     translation unit (-O2 -g / -O1 -g1): reactord_methods_test.cc 159.7 /
#     71.9 (object 35 / 15 MB), sim/trace.cc 85.4 / 48.4, reactor/pool.cc
#     27.5 / 14.9, lw_thread.cc 8.3 / 5.8 (-O2 -g1 7.2, -O1 -g 7.2; clang-14
#     -O1 -gline-tables-only 4.3, not used: the tree is not built with clang
#     and -Werror): 281 / 141 in all. SAN_OPT="-O2 -g" gives the old build;
#   - with --label only the targets the selected tests need are built
#     (scripts/test_targets.py: the TSan run builds its 22 `concurrent` tests
#     and what they run, 81 of the 131 translation units); if a test's
#     target cannot be found, everything is built.
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
flags=()
if [ -n "$san" ]; then
  type=RelWithDebInfo
  bench=OFF
  opt="${SAN_OPT:--O1 -g1} -DNDEBUG"
  flags=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$opt" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$opt")
fi
[ -n "$bdir" ] || bdir="$root/build/${san:-release}"
bdir=${bdir//,/-}
cmake -S "$root" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=$type -DREACTOR_WERROR=ON \
  -DREACTOR_SANITIZE="${san//,/;}" -DREACTOR_BUILD_BENCH=$bench "${flags[@]}" >/dev/null
targets=()
if [ -n "$label" ]; then
  if listed=$(python3 "$root/scripts/test_targets.py" "$bdir" "$label"); then
    mapfile -t targets <<<"$listed"
    echo "test.sh: building the ${#targets[@]} targets the tests labelled '$label' need"
  else
    echo "test.sh: building everything" >&2
  fi
fi
if [ "${#targets[@]}" -gt 0 ]; then
  cmake --build "$bdir" -j"$(nproc)" --target "${targets[@]}"
else
  cmake --build "$bdir" -j"$(nproc)"
fi
args=(--test-dir "$bdir" --output-on-failure -j2 --timeout 600)
[ -n "$label" ] && args+=(-L "$label")
# ThreadSanitizer cannot map its shadow memory with the high ASLR entropy of
# recent kernels; running without address randomisation avoids that.
if [[ "$san" == *thread* ]] && command -v setarch >/dev/null; then
  setarch "$(uname -m)" -R ctest "${args[@]}"
else
  ctest "${args[@]}"
fi
