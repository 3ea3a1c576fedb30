#!/usr/bin/env bash
# Configuration that survives a restart, end to end: the real reactorctl
# against a real reactord.
#
#   reactord_config_e2e.sh <reactord> <reactorctl>
#
# 1. reactord -m 0-1 -p 1 --isolated-cores [0] --mode interrupt; switch to
#    dynamic with every option (placement options included); status and the
#    switch summary show them; reactorctl refuses bad ones; save-config FILE
#    (atomic); stop.
# 2. reactord -m 0-1 --config FILE (no other option): framework_get_scheduler
#    (policy, period, limits, main core, isolated cores) and a second
#    save-config (mode included) are the same as before the restart.
# 3. switch static --persist FILE2 writes the new policy.
# 4. Bad files (not JSON, unknown method, wrong type, out-of-range value,
#    unknown key, duplicate key, a file that does not exist): each is exit
#    status 2, one line on stderr naming the problem, and nothing started
#    (no socket, no lock file, no "listening" line).
# No timing is asserted beyond "the daemon answers within --timeout".
set -u

REACTORD=${1:?usage: reactord_config_e2e.sh <reactord> <reactorctl>}
REACTORCTL=${2:?usage: reactord_config_e2e.sh <reactord> <reactorctl>}
SOCK=/tmp/rcfg-$$.sock
WORK=$(mktemp -d /tmp/rcfg-e2e.XXXXXX)
LOG=$WORK/log OUT=$WORK/out ERR=$WORK/err
DAEMON=
FAILURES=0

if ! command -v python3 >/dev/null; then echo "SKIP: python3 is needed to compare JSON"; exit 77; fi
if [[ $(nproc) -lt 2 ]]; then echo "SKIP: reactord -m 0-1 needs two cores, this process may use $(nproc)"; exit 77; fi

stop_daemon() {
  [[ -n $DAEMON ]] || return 0
  kill -TERM "$DAEMON" 2>/dev/null
  for _ in $(seq 300); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$DAEMON" 2>/dev/null
  wait "$DAEMON" 2>/dev/null
  DAEMON=
}
cleanup() { stop_daemon; rm -rf "$WORK"; rm -f "$SOCK" "$SOCK.lock"; }
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "--- stdout:" >&2; cat "$OUT" >&2
  echo "--- stderr:" >&2; cat "$ERR" >&2
  FAILURES=$((FAILURES + 1))
}

ctl() {
  local want=$1; shift
  "$REACTORCTL" -s "$SOCK" --timeout 20 "$@" >"$OUT" 2>"$ERR"
  local rc=$?
  echo "\$ reactorctl $* -> $rc"
  if [[ $rc -ne $want ]]; then fail "reactorctl $* exited $rc, expected $want"; return 1; fi
  return 0
}

start_daemon() {
  : >"$LOG"
  "$REACTORD" -r "$SOCK" "$@" >"$LOG" 2>&1 &
  DAEMON=$!
  for _ in $(seq 300); do
    grep -q "reactord: listening on" "$LOG" && return 0
    kill -0 "$DAEMON" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: reactord $* did not start:" >&2; cat "$LOG" >&2
  exit 1
}

# ---- 1. configure a daemon by hand, save its configuration ----
start_daemon -m 0-1 -p 1 --isolated-cores "[0]" --mode interrupt --governor sim
ctl 0 switch dynamic --period-us 250000 --load-limit 15 --core-limit 70 --core-busy 90 --numa-local on --keep-asleep true
grep -qF "load_limit 15, core_limit 70, core_busy 90, numa_local on, smt_last off, keep_asleep on, main_room off" "$OUT" || fail "switch summary"
ctl 0 status && grep -qE "^options +load_limit=15 core_limit=70 core_busy=90 numa_local=on smt_last=off keep_asleep=on main_room=off$" "$OUT" ||
  fail "status does not show the placement options"
ctl 2 switch dynamic --smt-last maybe && grep -qFx "reactorctl: switch: --smt-last 'maybe' is not on, off, true or false" "$ERR" ||
  fail "--smt-last maybe"
ctl 2 switch static --numa-local off && grep -qFx "reactorctl: switch: --numa-local applies to the dynamic policy only, not static" "$ERR" ||
  fail "--numa-local for static"
ctl 0 status --json && cp "$OUT" "$WORK/before.json"
CFG=$WORK/reactord.json
ctl 0 save-config "$CFG" && grep -qF "configuration saved to $CFG" "$OUT" || fail "save-config did not say where it wrote"
[[ -s $CFG ]] || fail "save-config wrote nothing to $CFG"
ls "$WORK" | grep -q '\.tmp\.' && fail "save-config left a temporary file: $(ls "$WORK")"
ctl 0 save-config && cp "$OUT" "$WORK/stdout.json"
cmp -s "$CFG" "$WORK/stdout.json" || fail "save-config FILE and save-config (stdout) differ"
python3 - "$CFG" <<'PY' || fail "the saved document is not SPDK's save_config shape with our values"
import json, sys
d = json.load(open(sys.argv[1]))
subs = {s["subsystem"]: s["config"] for s in d["subsystems"]}
assert list(d) == ["subsystems"], d
assert [s["subsystem"] for s in d["subsystems"]] == ["framework", "governor", "scheduler"], d
fw = {e["method"]: e["params"] for e in subs["framework"]}
assert fw["scheduler_set_options"] == {"scheduling_core": 1, "isolated_core_mask": "1"}, fw
assert fw["reactor_set_options"] == {"mode": "interrupt"}, fw
assert subs["scheduler"] == [{"method": "framework_set_scheduler", "params": {
    "name": "dynamic", "period": 250000, "load_limit": 15, "core_limit": 70, "core_busy": 90,
    "numa_local": True, "smt_last": False, "keep_asleep": True, "main_room": False}}], subs
PY
stop_daemon

# ---- 2. restart from the file alone ----
start_daemon -m 0-1 --governor sim --config "$CFG"
grep -q "listening on $SOCK (cores 0-1, scheduler dynamic)" "$LOG" || fail "ready line: $(cat "$LOG")"
ctl 0 status --json && cp "$OUT" "$WORK/after.json"
python3 - "$WORK/before.json" "$WORK/after.json" <<'PY' || fail "status after the restart differs"
import json, sys
b, a = (json.load(open(p)) for p in sys.argv[1:])
keys = ["scheduler_name", "scheduler_period", "isolated_core_mask", "scheduling_core",
        "load_limit", "core_limit", "core_busy", "numa_local", "smt_last", "keep_asleep", "main_room"]
assert {k: b[k] for k in keys} == {k: a[k] for k in keys}, (b, a)
assert a["scheduler_name"] == "dynamic" and a["scheduling_core"] == 1 and a["isolated_core_mask"] == "1", a
PY
ctl 0 status && grep -qE "^scheduler +dynamic" "$OUT" || fail "status does not show dynamic"
ctl 0 save-config "$WORK/again.json"
cmp -s "$CFG" "$WORK/again.json" || fail "the configuration after the restart differs: $(diff "$CFG" "$WORK/again.json")"

# ---- 3. switch --persist ----
ctl 0 switch static --persist "$WORK/persist.json"
python3 - "$WORK/persist.json" <<'PY' || fail "switch --persist did not save the new policy"
import json, sys
d = json.load(open(sys.argv[1]))
sched = [s for s in d["subsystems"] if s["subsystem"] == "scheduler"][0]["config"]
assert sched == [{"method": "framework_set_scheduler", "params": {"name": "static"}}], sched
PY
ctl 2 switch static --persist "" && grep -qF "reactorctl: switch: --persist needs a file name" "$ERR" || fail "empty --persist"
ctl 2 save-config "" && grep -qF "reactorctl: save-config: the file name is empty" "$ERR" || fail "empty save-config file"
ctl 1 save-config "$WORK/missing/x.json" && grep -qF "cannot create a temporary file in $WORK/missing" "$ERR" \
  || fail "save-config into a missing directory"
stop_daemon

# ---- 4. bad files: exit 2, one line naming the problem, nothing started ----
# bad_file <name> <expected text> <content>
bad_file() {
  local name=$1 want=$2 content=$3
  local f=$WORK/$name.json
  printf '%s\n' "$content" >"$f"
  rm -f "$SOCK" "$SOCK.lock"
  "$REACTORD" -m 0-1 --governor sim -r "$SOCK" --config "$f" >"$OUT" 2>"$ERR"
  local rc=$?
  echo "\$ reactord --config $name -> $rc"
  [[ $rc -eq 2 ]] || fail "reactord --config $name exited $rc, expected 2"
  [[ $(wc -l <"$ERR") -eq 1 ]] || fail "reactord --config $name wrote $(wc -l <"$ERR") lines to stderr"
  grep -qF -- "reactord: --config $f: $want" "$ERR" || fail "reactord --config $name: stderr lacks '$want'"
  [[ -s $OUT ]] && fail "reactord --config $name printed on stdout (it must not start)"
  [[ -e $SOCK || -e $SOCK.lock ]] && fail "reactord --config $name created its socket or lock file"
}
GOOD_FW='{"subsystem": "framework", "config": [{"method": "reactor_set_options", "params": {"mode": "poll"}}]}'
bad_file not-json "not valid JSON at line 2, column" $'{"subsystems": [\n  {"subsystem": "scheduler",, "config": []}]}'
bad_file unknown-method \
  "subsystems[1].config[0].method: unknown method \"framework_set_governor\" for subsystem 'scheduler'" \
  "{\"subsystems\": [$GOOD_FW, {\"subsystem\": \"scheduler\", \"config\": [{\"method\": \"framework_set_governor\"}]}]}"
bad_file wrong-type \
  "subsystems[0].config[0].params.period (framework_set_scheduler): Invalid parameters: 'period'" \
  '{"subsystems": [{"subsystem": "scheduler", "config": [{"method": "framework_set_scheduler", "params": {"name": "dynamic", "period": "1s"}}]}]}'
bad_file out-of-range \
  "subsystems[0].config[0].params.load_limit (framework_set_scheduler): Invalid parameters: 'load_limit' must be an integer 0-100, got 250" \
  '{"subsystems": [{"subsystem": "scheduler", "config": [{"method": "framework_set_scheduler", "params": {"name": "dynamic", "load_limit": 250}}]}]}'
bad_file not-a-boolean \
  "subsystems[0].config[0].params.numa_local (framework_set_scheduler): Invalid parameters: 'numa_local' must be true or false, got \"yes\"" \
  '{"subsystems": [{"subsystem": "scheduler", "config": [{"method": "framework_set_scheduler", "params": {"name": "dynamic", "numa_local": "yes"}}]}]}'
bad_file unknown-key \
  "subsystems[0].config[0].params.core_limmit: unknown key for framework_set_scheduler" \
  '{"subsystems": [{"subsystem": "scheduler", "config": [{"method": "framework_set_scheduler", "params": {"name": "dynamic", "core_limmit": 50}}]}]}'
bad_file unknown-top-key "version: unknown key at the top level" '{"version": 1, "subsystems": []}'
bad_file duplicate-key "subsystems[0].config[0].params.name: duplicate key" \
  '{"subsystems": [{"subsystem": "scheduler", "config": [{"method": "framework_set_scheduler", "params": {"name": "dynamic", "name": "static"}}]}]}'
bad_file main-core-outside "subsystems[0].config[0] (scheduler_set_options): Invalid scheduling core." \
  '{"subsystems": [{"subsystem": "framework", "config": [{"method": "scheduler_set_options", "params": {"scheduling_core": 7}}]}]}'
"$REACTORD" -m 0-1 -r "$SOCK" --config "$WORK/nope.json" >"$OUT" 2>"$ERR"; rc=$?
[[ $rc -eq 2 ]] || fail "reactord --config <missing file> exited $rc, expected 2"
grep -qF "reactord: --config $WORK/nope.json: cannot open: No such file or directory" "$ERR" || fail "missing file message"

if [[ $FAILURES -ne 0 ]]; then
  echo "--- reactord log:" >&2; cat "$LOG" >&2
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
echo "reactord config e2e: all checks passed"
