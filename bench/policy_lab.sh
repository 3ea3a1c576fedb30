#!/usr/bin/env bash
# Policy lab for the dynamic policy's placement options (issue 12 §4).
#
#   bench/policy_lab.sh [BUILD_DIR] [DURATION_S] [SEED]   # defaults: build/release, 3600, 1
#
# Runs reactor-sim's generated workloads (steady, bursty, diurnal, skewed) on
# two synthetic 2-socket SMT hosts through static, dynamic (defaults), dynamic
# with each placement option alone and with all three, gscheduler and SPDK's
# dynamic algorithm (spdk-dynamic), then prints one markdown table per host:
# polling CPU-seconds (the energy proxy) and its ratio to spdk-dynamic,
# core-seconds above core_busy (the latency risk), queued delay p99 and moves
# per thread per hour, and whether the goal holds for "dynamic, all three on":
# >= 20 % fewer polling CPU-seconds than spdk-dynamic at equal or lower
# core-seconds above core_busy (checked on bursty and diurnal).
#
# Hosts: "package:2 numa:1 core:32 pu:2" (64 cores, 128 reactors) with 2,500
# threads and "package:2 numa:1 core:128 pu:2" (256 cores, 512 reactors) with
# 10,000 threads. The "numa:1" matters: a synthetic string without a NUMA
# level gets ONE NUMA node for the whole machine (hwloc inserts it), and then
# numa_local has nothing to do.
#
# Needs reactor-sim (built from src/sim) whose --policy accepts the keys
# numa_local, smt_last and keep_asleep (true/false) for dynamic.
set -euo pipefail

BUILD=${1:-build/release}
DURATION=${2:-3600}
SEED=${3:-1}
SIM=$(find "$BUILD" -name reactor-sim -type f -perm -u+x 2>/dev/null | head -n 1)
if [[ -z $SIM ]]; then
  echo "policy_lab: no reactor-sim under $BUILD (build the target reactor-sim first)" >&2
  exit 2
fi
OUT=$(mktemp -d /tmp/policy-lab.XXXXXX)
echo "policy_lab: $SIM, $DURATION s simulated, seed $SEED; JSON in $OUT" >&2

POLICIES=(static dynamic dynamic:numa_local=true dynamic:smt_last=true dynamic:keep_asleep=true
          dynamic:numa_local=true,smt_last=true,keep_asleep=true gscheduler spdk-dynamic)
HOSTS=("package:2 numa:1 core:32 pu:2|2500" "package:2 numa:1 core:128 pu:2|10000")
WORKLOADS=(steady bursty diurnal skewed)

for host in "${HOSTS[@]}"; do
  topo=${host%|*} threads=${host#*|}
  for w in "${WORKLOADS[@]}"; do
    args=()
    for p in "${POLICIES[@]}"; do args+=(--policy "$p"); done
    f="$OUT/$(echo "$topo" | tr -c 'a-z0-9' _)-$w.json"
    echo "policy_lab: $w on '$topo', $threads threads" >&2
    "$SIM" --workload "$w" --threads "$threads" --topology "$topo" --duration "$DURATION" --seed "$SEED" \
      "${args[@]}" --json >"$f"
  done
done

python3 - "$OUT" <<'PY'
import glob, json, os, sys

ALL_ON = "dynamic:numa_local=true,smt_last=true,keep_asleep=true"
rows = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    d = json.load(open(path))
    rows.setdefault(d["topology"], []).append(d)
for topo, runs in rows.items():
    print(f"\n{topo} ({runs[0]['cores']} reactors)\n")
    print("| workload | policy | polling core-s | vs spdk-dynamic | above core_busy core-s | delay p99 us | moves/thread/h |")
    print("|---|---|---|---|---|---|---|")
    for d in runs:
        by = {p["policy"]: p for p in d["policies"]}
        ref = by["spdk-dynamic"]
        for name, p in by.items():
            ratio = p["polling_s"] / ref["polling_s"] if ref["polling_s"] else float("nan")
            print(f"| {d['workload']} | {name} | {p['polling_s']:.0f} | {ratio:.3f} | {p['above_core_busy_s']:.1f} | "
                  f"{p['delay_p99_us']:.0f} | {p['moves_per_thread_hour']:.3f} |")
        if d["workload"] in ("bursty", "diurnal"):
            on = by[ALL_ON]
            met = on["polling_s"] <= 0.8 * ref["polling_s"] and on["above_core_busy_s"] <= ref["above_core_busy_s"]
            print(f"| {d['workload']} | **goal** (all three on vs spdk-dynamic) | | "
                  f"{on['polling_s'] / ref['polling_s']:.3f} | {on['above_core_busy_s']:.1f} vs "
                  f"{ref['above_core_busy_s']:.1f} | | {'met' if met else 'NOT met'} |")
PY
