#!/usr/bin/env bash
# Policy quality: reactor-bench under dynamic (0.5 s period) against static,
# alternating runs, in three loads:
#   - one I/O worker per core (4 KiB random page-cache reads, QD 32);
#   - two I/O workers per core;
#   - mixed: one I/O worker and 6 idle threads (a 100 ms timer each).
# Reactors poll (--poll, the baseline SPDK users run), so a core dynamic sends
# to sleep shows as CPU saved. Per load it prints the medians of IOPS and of
# CPU-seconds per second, the cores that were busy (>= 50 % CPU), the thread
# moves dynamic made after its 3 s settle (the measured window), and the
# ratio dynamic/static within the same series. Targets (issue: scheduling
# quality): IOPS ratio >= 0.95 and 0 moves once settled; in the mixed load,
# fewer busy cores than static.
#
#   bench/policy_quality.sh [BUILD_DIR] [PAIRS] [SECONDS]
#   (defaults: build/release, 3 pairs, 5 measured seconds)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/release}
pairs=${2:-3}
secs=${3:-5}
bin=$build/src/tools/reactor-bench
[ -x "$bin" ] || { echo "policy_quality: $bin not found (build first: scripts/test.sh)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

loads=("per-core|" "two-per-core|--threads-per-core 2" "mixed|--workers 1 --idle-threads 6")
common=(--poll -t "$secs" --ramp 3 --period-us 500000 --json)
for l in "${loads[@]}"; do
  name=${l%%|*}
  extra=${l#*|}
  for ((i = 1; i <= pairs; i++)); do
    # Alternate which policy runs first, so drift on a shared machine hits both.
    order=(static dynamic)
    (( i % 2 == 0 )) && order=(dynamic static)
    for p in "${order[@]}"; do
      # shellcheck disable=SC2086
      "$bin" "${common[@]}" --scheduler "$p" $extra > "$out/$name.$p.$i.json" 2> "$out/$name.$p.$i.err" || {
        echo "policy_quality: reactor-bench failed ($name, $p, run $i):" >&2
        cat "$out/$name.$p.$i.err" >&2
        exit 1
      }
      printf '.' >&2
    done
  done
done
echo >&2
python3 - "$out" "$pairs" <<'PY'
import json, statistics, sys, os
out, pairs = sys.argv[1], int(sys.argv[2])
def load(name, pol):
    runs = []
    for i in range(1, pairs + 1):
        with open(os.path.join(out, f"{name}.{pol}.{i}.json")) as f:
            runs.append(json.load(f))
    return runs
def med(xs): return statistics.median(xs)
print(f"policy quality: {pairs} alternating pairs per load; medians; reactors polling; dynamic period 0.5 s")
print(f"{'load':<14}{'policy':<9}{'IOPS':>12}{'CPU s/s':>9}{'busy cores':>11}{'moves':>7}")
ok_all = True
for name in ("per-core", "two-per-core", "mixed"):
    rs = {p: load(name, p) for p in ("static", "dynamic")}
    row = {}
    for p, runs in rs.items():
        iops = med([r["iops"] for r in runs])
        cpu = med([r["cpu_seconds"] / r["runtime_s"] for r in runs])
        busy = med([sum(1 for c in r["cpu"] if c["pct"] >= 50) for r in runs])
        moves = max(r["scheduler"]["moves"] for r in runs)
        row[p] = (iops, cpu, busy, moves)
        print(f"{name:<14}{p:<9}{iops:>12,.0f}{cpu:>9.2f}{busy:>11g}{moves:>7}")
    ratio = row["dynamic"][0] / row["static"][0]
    cpu_ratio = row["dynamic"][1] / row["static"][1]
    met = ratio >= 0.95 and row["dynamic"][3] == 0
    if name == "mixed":
        met = met and row["dynamic"][2] < row["static"][2]
    ok_all &= met
    print(f"{'':<14}{'ratio':<9}{ratio:>12.3f}{cpu_ratio:>9.2f}{'':>11}{'':>7}  "
          f"{'target met' if met else 'TARGET MISSED'}")
print("all targets met" if ok_all else "some targets missed")
PY
