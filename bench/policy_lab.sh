#!/usr/bin/env bash
# Policy lab for the dynamic policy's placement options (issue 12 §4).
#
#   bench/policy_lab.sh [BUILD_DIR] [DURATION_S] [SEED] [HOSTS]  # defaults: build/release, 3600, 1, 64,256
#   bench/policy_lab.sh --report DIR                              # the tables again from a run's JSON
#
# HOSTS picks the hosts (64, 256 or both, comma-separated): two runs with one
# host each can go in parallel on a machine with two free CPUs; with
# POLICY_LAB_OUT=DIR both write there and `--report DIR` prints the tables.
#
# Runs reactor-sim's generated workloads (steady, bursty, diurnal, skewed) on
# two synthetic 2-socket SMT hosts through static, dynamic (defaults), dynamic
# with each placement option alone, with numa_local+smt_last+keep_asleep,
# with main_room alone, with all four and with keep_asleep+main_room (the
# recommended set), gscheduler and SPDK's dynamic algorithm (spdk-dynamic),
# then prints one markdown table per host: polling CPU-seconds (the energy
# proxy) and its ratio to spdk-dynamic, work done against demand and polling
# per core-second of work (a policy that leaves work queued polls less for
# it), core-seconds above core_busy (the latency risk), queued delay p99 and
# moves per thread per hour, and whether the goal holds for the recommended
# set: >= 20 % fewer polling CPU-seconds than spdk-dynamic at equal or lower
# core-seconds above core_busy (checked on bursty and diurnal). The report
# merges every JSON file of the directory per host and workload.
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

if [[ ${1:-} == --report ]]; then
  OUT=${2:?policy_lab: --report needs the directory of a run}
  REPORT_ONLY=1
else
REPORT_ONLY=0
BUILD=${1:-build/release}
DURATION=${2:-3600}
SEED=${3:-1}
HOST_SET=${4:-64,256}
SIM=$(find "$BUILD" -name reactor-sim -type f -perm -u+x 2>/dev/null | head -n 1)
if [[ -z $SIM ]]; then
  echo "policy_lab: no reactor-sim under $BUILD (build the target reactor-sim first)" >&2
  exit 2
fi
OUT=${POLICY_LAB_OUT:-$(mktemp -d /tmp/policy-lab.XXXXXX)}
mkdir -p "$OUT"
echo "policy_lab: $SIM, $DURATION s simulated, seed $SEED; JSON in $OUT" >&2

POLICIES=(static dynamic dynamic:numa_local=true dynamic:smt_last=true dynamic:keep_asleep=true
          dynamic:numa_local=true,smt_last=true,keep_asleep=true gscheduler spdk-dynamic
          dynamic:main_room=true dynamic:numa_local=true,smt_last=true,keep_asleep=true,main_room=true
          dynamic:keep_asleep=true,main_room=true)
HOSTS=()
for h in ${HOST_SET//,/ }; do
  case $h in
    64) HOSTS+=("package:2 numa:1 core:32 pu:2|2500") ;;
    256) HOSTS+=("package:2 numa:1 core:128 pu:2|10000") ;;
    *) echo "policy_lab: unknown host '$h' (known: 64, 256)" >&2; exit 2 ;;
  esac
done
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
fi

python3 - "$OUT" <<'PY'
import glob, json, os, sys

# The recommended set (README, "Placement options of the dynamic policy").
RECOMMENDED = "dynamic:keep_asleep=true,main_room=true"
runs = {}  # (topology, workload) -> {policy: entry}, merged over the JSON files of a run
meta = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    try:
        d = json.load(open(path))
    except (OSError, ValueError):
        print(f"policy_lab: skipping {path} (not a finished run)", file=sys.stderr)
        continue
    key = (d["topology"], d["workload"])
    meta[key] = d
    for p in d["policies"]:
        runs.setdefault(key, {})[p["policy"]] = p
order = ["steady", "bursty", "diurnal", "skewed"]
for topo in sorted({t for t, _ in runs}, key=lambda t: meta[next(k for k in runs if k[0] == t)]["cores"]):
    first = meta[next(k for k in runs if k[0] == topo)]
    print(f"\n{topo} ({first['cores']} reactors, {first['threads']} threads)\n")
    print("| workload | s | policy | polling core-s | vs spdk-dynamic | work done / demand core-s | "
          "polling per work | above core_busy core-s | delay p99 | moves/thread/h |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for w in order:
        if (topo, w) not in runs:
            continue
        by = runs[(topo, w)]
        ref = by.get("spdk-dynamic")
        for name, p in by.items():
            ratio = f"{p['polling_s'] / ref['polling_s']:.3f}" if ref and ref["polling_s"] else "-"
            per = p["polling_s"] / p["work_s"] if p["work_s"] else float("nan")
            d99 = p["delay_p99_us"]
            d99 = f"{d99 / 1e6:.1f} s" if d99 >= 1e6 else f"{d99 / 1e3:.1f} ms" if d99 >= 1e3 else f"{d99:.0f} us"
            print(f"| {w} | {p['simulated_s']:.0f} | {name} | {p['polling_s']:.0f} | {ratio} | "
                  f"{p['work_s']:.0f} / {p['demand_s']:.0f} | {per:.3f} | {p['above_core_busy_s']:.0f} | {d99} | "
                  f"{p['moves_per_thread_hour']:.1f} |")
        on = by.get(RECOMMENDED)
        if w in ("bursty", "diurnal") and on and ref:
            met = on["polling_s"] <= 0.8 * ref["polling_s"] and on["above_core_busy_s"] <= ref["above_core_busy_s"]
            print(f"| {w} | | **goal** ({RECOMMENDED} vs spdk-dynamic) | | {on['polling_s'] / ref['polling_s']:.3f} | "
                  f"{on['work_s'] / ref['work_s']:.1f}x the work | "
                  f"{(on['polling_s'] / on['work_s']) / (ref['polling_s'] / ref['work_s']):.3f} | "
                  f"{on['above_core_busy_s']:.0f} vs {ref['above_core_busy_s']:.0f} | | {'met' if met else 'NOT met'} |")
PY
