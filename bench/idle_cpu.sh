#!/usr/bin/env bash
# CPU burned by an idle reactord, per scheduling policy and baseline mode.
#
# For each policy in {static, dynamic, gscheduler} x mode {poll, interrupt}
# (and, with -n N, again with N idle synthetic threads created through
# scheduler_thread_create '{"active":0}'), starts the real reactord on the
# given cores with the simulated governor, lets it settle, then reads the
# process's utime+stime from /proc/PID/stat before and after the window and
# prints the CPU used as % of one CPU. The thread that used the most CPU in
# the window (from /proc/PID/task/*/stat) is printed beside it, so a policy
# that misses its target says who burns the CPU.
#
# Target (DESIGN.md "What fast means here", issue 9): under dynamic an idle
# daemon uses < 1 % of a CPU. Poll mode spins one CPU per awake reactor by
# design (static/gscheduler poll: ~100 % per reactor).
#
# Resolution: utime/stime are in clock ticks (usually 100/s): over 10 s one
# tick is 0.1 % of a CPU.
#
# Usage: bench/idle_cpu.sh [-b BUILD_DIR] [-t SECONDS] [-s SETTLE] [-m CORES]
#                          [-n THREADS] [-p POLICIES] [-M MODES]
#   -b  build directory (default build/release)
#   -t  measurement window in seconds (default 10; DESIGN.md asks >= 10)
#   -s  settle time before the window (default 2: dynamic's first rounds
#       come one --period-us (1 s) after start)
#   -m  reactord --cpumask (default 0-1)
#   -n  also measure with N idle synthetic threads (default 0: only no load)
#   -p  policies, comma-separated (default static,dynamic,gscheduler)
#   -M  modes, comma-separated (default poll,interrupt)
set -euo pipefail

build=build/release
window=10
settle=2
cores=0-1
nthreads=0
policies=static,dynamic,gscheduler
modes=poll,interrupt
while getopts "b:t:s:m:n:p:M:h" opt; do
  case $opt in
    b) build=$OPTARG ;;
    t) window=$OPTARG ;;
    s) settle=$OPTARG ;;
    m) cores=$OPTARG ;;
    n) nthreads=$OPTARG ;;
    p) policies=$OPTARG ;;
    M) modes=$OPTARG ;;
    h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) exit 2 ;;
  esac
done
reactord=$build/src/tools/reactord
reactorctl=$build/src/tools/reactorctl
for b in "$reactord" "$reactorctl"; do
  [[ -x $b ]] || { echo "idle_cpu.sh: $b not found (build it: cmake --build $build --target reactord reactorctl)" >&2; exit 1; }
done
[[ $window =~ ^[0-9]+$ && $window -ge 1 ]] || { echo "idle_cpu.sh: -t needs whole seconds >= 1" >&2; exit 2; }
[[ $nthreads =~ ^[0-9]+$ ]] || { echo "idle_cpu.sh: -n needs a number" >&2; exit 2; }

tck=$(getconf CLK_TCK)
sock=/tmp/rb-idle-$$.sock  # short: a Unix socket path is at most 107 bytes
log=$(mktemp /tmp/rb-idle-$$.XXXXXX)
pid=

stop_daemon() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    # Graceful stop removes the socket and its lock; give it 5 s, then force.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
  fi
  pid=
}
cleanup() {
  stop_daemon
  rm -f "$log" "$sock" "$sock.lock"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# utime+stime of the whole process (fields 14 and 15; the name in field 2
# may contain spaces, so count from the closing parenthesis).
proc_ticks() {
  local s
  s=$(<"/proc/$1/stat") || return 1
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  echo $(( ${12} + ${13} ))
}

# "TID NAME TICKS" for every thread of the process.
task_ticks() {
  local f s name
  for f in /proc/"$1"/task/*/stat; do
    s=$(<"$f") 2>/dev/null || continue
    name=${s#*(}; name=${name%)*}; name=${name// /_}
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo "$(basename "$(dirname "$f")") $name $(( ${12} + ${13} ))"
  done
}

measure() {  # policy mode threads
  local policy=$1 mode=$2 n=$3 i w0 w1 before after pct top
  : >"$log"
  "$reactord" -m "$cores" -r "$sock" --scheduler "$policy" --mode "$mode" --governor sim \
    --log-level warn >"$log" 2>&1 &
  pid=$!
  for i in $(seq 100); do
    grep -q 'listening on' "$log" && break
    kill -0 "$pid" 2>/dev/null || { echo "idle_cpu.sh: reactord exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  grep -q 'listening on' "$log" || { echo "idle_cpu.sh: reactord did not start in 10 s" >&2; cat "$log" >&2; exit 1; }
  for i in $(seq 1 "$n"); do
    "$reactorctl" -s "$sock" call scheduler_thread_create "{\"name\":\"idle$i\",\"active\":0}" >/dev/null
  done
  sleep "$settle"
  local tasks0 tasks1
  tasks0=$(task_ticks "$pid")
  before=$(proc_ticks "$pid")
  w0=$(date +%s%N)
  sleep "$window"
  after=$(proc_ticks "$pid")
  w1=$(date +%s%N)
  tasks1=$(task_ticks "$pid")
  stop_daemon
  # % of one CPU = ticks / tck / wall seconds * 100
  pct=$(awk -v d=$((after - before)) -v tck="$tck" -v ns=$((w1 - w0)) 'BEGIN { printf "%.2f", d / tck / (ns / 1e9) * 100 }')
  top=$(awk -v tck="$tck" -v ns=$((w1 - w0)) '
    NR == FNR { b[$1] = $3; next }
    { d = $3 - ($1 in b ? b[$1] : 0); if (d > best) { best = d; name = $2 } }
    END { if (best > 0) printf "%s %.2f %%", name, best / tck / (ns / 1e9) * 100; else print "-" }' \
    <(echo "$tasks0") <(echo "$tasks1"))
  printf "| %-10s | %-9s | %7s | %9s %% | %-26s |\n" "$policy" "$mode" "$n" "$pct" "$top"
}

echo "reactord idle CPU: cores $cores, settle ${settle} s, window ${window} s, CLK_TCK $tck, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'), load avg $(cut -d' ' -f1-3 /proc/loadavg)"
printf "| %-10s | %-9s | %7s | %11s | %-26s |\n" policy mode threads "% of 1 CPU" "busiest thread in window"
printf "|%s|%s|%s|%s|%s|\n" ------------ ----------- --------- ------------- ----------------------------
IFS=, read -r -a plist <<<"$policies"
IFS=, read -r -a mlist <<<"$modes"
counts=(0)
[[ $nthreads -gt 0 ]] && counts+=("$nthreads")
for n in "${counts[@]}"; do
  for policy in "${plist[@]}"; do
    for mode in "${mlist[@]}"; do
      measure "$policy" "$mode" "$n"
    done
  done
done
