#!/usr/bin/env bash
# Runs the messaging microbenchmarks N times (default 10) and prints medians,
# spreads and the ratios the runtime is judged by, all measured in the same run:
#   cross-core LwThread messages vs raw rte_ring burst-1 (target >= 50 %)
#   LwThread round trip vs cache-line ping-pong (target <= 3x)
# Usage: bench/run_micro.sh <build-dir> [repetitions]
set -euo pipefail
build=${1:?usage: run_micro.sh <build-dir> [repetitions]}
reps=${2:-10}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$build/bench/message_bench" --benchmark_repetitions="$reps" --benchmark_format=json \
  --benchmark_filter='RawRteRing|PingPong|LwThreadMessages/1/|RoundTrip|RunOnce' >"$out" 2>/dev/null
python3 - "$out" <<'PY'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
runs = {}
for b in d["benchmarks"]:
    if b.get("run_type") != "iteration" or b.get("error_occurred"):
        continue
    runs.setdefault(b["run_name"], []).append(b)
def med(name, key):
    vals = [b[key] for b in runs.get(name, []) if key in b]
    if not vals:
        return None, None
    return statistics.median(vals), (min(vals), max(vals))
def show(label, name, key, unit, scale=1.0):
    m, spread = med(name, key)
    if m is None:
        print(f"{label:<44} not measured here"); return None
    print(f"{label:<44} {m*scale:12.1f} {unit}  (min {spread[0]*scale:.1f}, max {spread[1]*scale:.1f}, n={len(runs[name])})")
    return m
print(f"machine: {d['context'].get('host_name','?')}, {d['context'].get('num_cpus','?')} CPUs, {d['context'].get('date','')}")
raw = show("raw rte_ring burst-1 (msgs/s)", "BM_RawRteRingBurst1/1048576/manual_time", "items_per_second", "M/s", 1e-6)
lw = show("LwThread messages, 1 producer (msgs/s)", "BM_LwThreadMessages/1/1048576/manual_time", "items_per_second", "M/s", 1e-6)
show("LwThread messages, 2 producers (msgs/s)", "BM_LwThreadMessages/2/1048576/manual_time", "items_per_second", "M/s", 1e-6)
pp = show("cache-line ping-pong round trip", "BM_CacheLinePingPong/200000/manual_time", "real_time", "ns")
rt = show("LwThread round trip", "BM_LwThreadRoundTrip/100000/manual_time", "real_time", "ns")
for n in (1, 100, 10000):
    show(f"run_once, {n} idle pollers", f"BM_RunOnceIdlePollers/{n}", "real_time", "ns")
if raw and lw:
    print(f"ratio messages / raw ring: {100*lw/raw:.0f} % (target >= 50 %)")
if pp and rt:
    print(f"ratio round trip / ping-pong: {rt/pp:.2f}x (target <= 3x)")
PY
