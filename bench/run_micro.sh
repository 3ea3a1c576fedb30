#!/usr/bin/env bash
# Runs the messaging microbenchmarks N times (default 10) and prints medians,
# spreads and the ratios the runtime is judged by. Each run is one process
# that measures every reference and the runtime back to back, and each ratio
# is taken within a run, then its median is printed: on a shared VM the
# cross-core latency changes by 4x from minute to minute (vCPU placement), so
# a reference measured minutes apart would not be a reference.
#   cross-core LwThread messages vs raw rte_ring burst-1 (target >= 50 %)
#   LwThread round trip vs cache-line ping-pong (target <= 3x)
#   wake latency from Interrupt sleep vs raw eventfd -> io_uring (target p50 <= 2x)
#   the SPDK-tool twins (event_perf, reactor_perf, poller_perf) against the
#   figures SPDK's own tools gave on this machine kind (issue 13)
# Usage: bench/run_micro.sh <build-dir> [runs]
set -euo pipefail
build=${1:?usage: run_micro.sh <build-dir> [runs]}
runs=${2:-10}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for i in $(seq 1 "$runs"); do
  "$build/bench/message_bench" --benchmark_format=json \
    --benchmark_filter='RawRteRing|PingPong|LwThreadMessages|RoundTrip|RunOnce|Interleaved' >"$dir/run$i.json" 2>/dev/null
done
python3 - "$dir" "$runs" <<'PY'
import json, statistics, sys, os
d, runs = sys.argv[1], int(sys.argv[2])
per_run = []
ctx = None
for i in range(1, runs + 1):
    j = json.load(open(os.path.join(d, f"run{i}.json")))
    ctx = ctx or j["context"]
    r = {}
    for b in j["benchmarks"]:
        if b.get("run_type") == "iteration" and not b.get("error_occurred"):
            r[b["run_name"]] = b
    per_run.append(r)
def vals(name, key, scale=1.0):
    return [r[name][key] * scale for r in per_run if name in r and key in r[name]]
def show(label, v, unit, fmt="{:.1f}"):
    if not v:
        print(f"{label:<46} not measured here"); return
    m = statistics.median(v)
    print(f"{label:<46} {fmt.format(m):>9} {unit}  (min {fmt.format(min(v))}, max {fmt.format(max(v))}, n={len(v)})")
RAW = "BM_RawRteRingBurst1/1048576/manual_time"
LW1 = "BM_LwThreadMessages/producers:1/n:1048576/pooled:0/manual_time"
LW1P = "BM_LwThreadMessages/producers:1/n:1048576/pooled:1/manual_time"
LW2 = "BM_LwThreadMessages/producers:2/n:1048576/pooled:0/manual_time"
PP = "BM_CacheLinePingPong/200000/iterations:3/manual_time"
RRT = "BM_RawRteRingRoundTrip/200000/iterations:3/manual_time"
RT = "BM_LwThreadRoundTrip/100000/iterations:3/manual_time"
print(f"machine: {ctx.get('host_name','?')}, {ctx.get('num_cpus','?')} CPUs, {ctx.get('date','')}, {runs} runs")
show("raw rte_ring burst-1", vals(RAW, "items_per_second", 1e-6), "M/s")
show("LwThread messages, 1 producer, inline", vals(LW1, "items_per_second", 1e-6), "M/s")
show("LwThread messages, 1 producer, pooled object", vals(LW1P, "items_per_second", 1e-6), "M/s")
show("LwThread messages, 2 producers, inline", vals(LW2, "items_per_second", 1e-6), "M/s")
show("cache-line ping-pong round trip", vals(PP, "real_time"), "ns")
show("raw rte_ring round trip", vals(RRT, "real_time"), "ns")
show("LwThread round trip", vals(RT, "real_time"), "ns")
for n in (1, 100, 10000):
    show(f"run_once, {n} idle pollers", vals(f"BM_RunOnceIdlePollers/{n}", "real_time"), "ns")
def ratios(num, den, key, scale=1.0):
    return [r[num][key] / r[den][key] * scale for r in per_run if num in r and den in r]
print("ratios within each run (median, min, max):")
show("  messages (inline) / raw ring", ratios(LW1, RAW, "items_per_second", 100), "%  (target >= 50 %)", "{:.0f}")
show("  messages (pooled object) / raw ring", ratios(LW1P, RAW, "items_per_second", 100), "%  (target >= 50 %)", "{:.0f}")
show("  round trip / ping-pong", ratios(RT, PP, "real_time"), "x  (target <= 3x)", "{:.2f}")
show("  raw ring round trip / ping-pong", ratios(RRT, PP, "real_time"), "x  (the ring's own floor)", "{:.2f}")
show("  round trip / raw ring round trip", ratios(RT, RRT, "real_time"), "x  (what the runtime adds)", "{:.2f}")
# The interleaved pair (bench/message_bench.cc): 21 alternating chunks of the
# raw reference and the runtime within one process (ABBA), each run's figure
# the median of the adjacent-chunk ratios. The issue-13 targets are read here:
# a reference taken seconds apart from the runtime is off by the VM's
# placement-level swings (up to 3x).
IRT = "BM_InterleavedRoundTrip/21/20000/iterations:1/manual_time"
IMS = "BM_InterleavedMessages/21/262144/iterations:1/manual_time"
print("interleaved chunks (median of each run's adjacent-chunk ratios; issue 13 targets):")
show("  messages (inline) / raw ring, interleaved", vals(IMS, "ratio", 100), "%  (target >= 100 %)", "{:.0f}")
show("  round trip / raw ring round trip, interleaved", vals(IRT, "ratio"), "x  (target <= 1.1x)", "{:.2f}")
show("  raw ring round trip in those chunks", vals(IRT, "raw_ns"), "ns")
show("  raw ring burst-1 in those chunks", vals(IMS, "raw_mps"), "M/s")
# The same raw ring round trip echoed by pollers inside the reactor loop, against
# spinning threads (interleaved the same way): the loop's share of the runtime's
# round trip; the rest (the interleaved round trip over this) is the message path.
IRR = "BM_InterleavedReactorRingRoundTrip/21/20000/iterations:1/manual_time"
show("  raw ring round trip in reactor pollers / raw", vals(IRR, "ratio"), "x  (the reactor loop's share)", "{:.2f}")
show("  round trip / raw ring in reactor pollers", [r[IRT]["ratio"] / r[IRR]["ratio"] for r in per_run if IRT in r and IRR in r], "x  (the message path's share)", "{:.2f}")
PY

# Wake latency (bench/wake_bench.cc, a plain main printing a table): a message
# to a thread on a sleeping Interrupt reactor vs a raw eventfd -> io_uring
# wake, alternating sample by sample in each run (sender cpu 0, receiver cpu 1).
# Medians over the runs of each run's p50/p99 and of the ratio runtime/raw
# taken within each run (target: p50 <= 2x raw). About 4 s per run.
# Skipped (one line) when the build has no wake_bench.
if [[ -x "$build/bench/wake_bench" ]]; then
  for i in $(seq 1 "$runs"); do
    "$build/bench/wake_bench" >"$dir/wake$i.txt"
  done
  python3 - "$dir" "$runs" <<'PY'
import os, statistics, sys
d, runs = sys.argv[1], int(sys.argv[2])
rows = {"raw": [], "runtime": []}
for i in range(1, runs + 1):
    for line in open(os.path.join(d, f"wake{i}.txt")):
        for k in rows:
            if line.startswith(k + ":"):
                f = line.split()
                rows[k].append((float(f[-5]), float(f[-3])))  # p50, p99 (us)
def show(label, v, unit):
    print(f"{label:<46} {statistics.median(v):>9.2f} {unit}  (min {min(v):.2f}, max {max(v):.2f}, n={len(v)})")
print("wake latency from sleep (sender cpu 0 -> cpu 1):")
for k, name in (("raw", "raw eventfd -> io_uring wait"), ("runtime", "LwThread message, Interrupt reactor")):
    show(f"  {name} p50", [p for p, _ in rows[k]], "us")
    show(f"  {name} p99", [q for _, q in rows[k]], "us")
pairs = list(zip(rows["runtime"], rows["raw"]))
show("  p50 runtime / raw", [a[0] / b[0] for a, b in pairs], "x  (target <= 2x)")
show("  p99 runtime / raw", [a[1] / b[1] for a, b in pairs], "x")
PY
else
  echo "wake latency: $build/bench/wake_bench not built"
fi

# SPDK-tool twins (bench/event_perf.cc, reactor_perf.cc, poller_perf.cc): each
# run 1 s, N times, medians with min-max, in wall time (the SPDK tools' own
# form) and per CPU-second of the reactor thread (the steadier figure when
# other processes share the CPUs), and the ratio to what SPDK's tools gave on
# this machine kind in issue 13 (same machine kind, same hour, 3 s runs):
# reactor_perf -q 1 21.6-33.6 M/s, event_perf -m 0x3 1.9-2.1 M/s per core,
# poller_perf -b 1000 -l 0 3-4 ns, -l 1 26-36 ns. SPDK is not built here.
if [[ -x "$build/bench/reactor_perf" ]]; then
  for i in $(seq 1 "$runs"); do
    "$build/bench/reactor_perf" -q 1 -t 1 >"$dir/rp$i.txt"
    "$build/bench/event_perf" -m 0x3 -t 1 >"$dir/ep$i.txt"
    "$build/bench/poller_perf" -b 1000 -l 0 -t 1 >"$dir/pp0_$i.txt"
    "$build/bench/poller_perf" -b 1000 -l 1 -t 1 >"$dir/pp1_$i.txt"
  done
  python3 - "$dir" "$runs" <<'PY'
import os, re, statistics, sys
d, runs = sys.argv[1], int(sys.argv[2])
def grab(prefix, pat, scale=1.0):
    out = []
    for i in range(1, runs + 1):
        for line in open(os.path.join(d, f"{prefix}{i}.txt")):
            m = re.search(pat, line)
            if m: out.append(float(m.group(1)) * scale)
    return out
def show(label, v, unit, spdk=None, higher_better=True):
    if not v:
        print(f"{label:<46} not measured"); return
    m = statistics.median(v)
    extra = ""
    if spdk:
        lo, hi = spdk
        r = (m / hi, m / lo) if higher_better else (lo / m, hi / m)
        extra = f"  vs SPDK {lo:g}-{hi:g}: {r[0]:.2f}-{r[1]:.2f}x"
    print(f"{label:<46} {m:>9.2f} {unit}  (min {min(v):.2f}, max {max(v):.2f}, n={len(v)}){extra}")
print("SPDK-tool twins (1 s runs; ratio > 1 means better than SPDK):")
show("  reactor_perf -q 1, wall", grab("rp", r"Performance:\s+(\d+)", 1e-6), "M/s", (21.6, 33.6))
show("  reactor_perf -q 1, per reactor CPU-s", grab("rp", r"cpu: (\d+) events", 1e-6), "M/s", (21.6, 33.6))
show("  event_perf -m 0x3, wall, per core", grab("ep", r"^lcore\s+\d+:\s+(\d+)", 1e-6), "M/s", (1.9, 2.1))
show("  event_perf -m 0x3, per reactor CPU-s", grab("ep", r"cpu: (\d+) events", 1e-6), "M/s", (1.9, 2.1))
show("  poller_perf -b 1000 -l 0, wall", grab("pp0_", r"poller_cost: \d+ \(cyc\), (\d+)"), "ns", (3, 4), False)
show("  poller_perf -b 1000 -l 0, reactor CPU", grab("pp0_", r"cpu: .* ([\d.]+) ns each"), "ns", (3, 4), False)
show("  poller_perf -b 1000 -l 1, wall", grab("pp1_", r"poller_cost: \d+ \(cyc\), (\d+)"), "ns", (26, 36), False)
show("  poller_perf -b 1000 -l 1, reactor CPU", grab("pp1_", r"cpu: .* ([\d.]+) ns each"), "ns", (26, 36), False)
PY
else
  echo "SPDK-tool twins: $build/bench/reactor_perf not built"
fi
