#!/usr/bin/env bash
# End to end: a real reactord driven by the real reactorctl.
#
#   reactorctl_e2e.sh <reactord> <reactorctl>
#
# Starts reactord on cores 0-1 with the simulated governor, creates load
# with `reactorctl call scheduler_thread_create`, switches static -> dynamic
# -> global -> static and reads every view in between, checks exit codes,
# key text and the one-line errors (bad usage, an RPC error, no daemon), then
# stops reactord with SIGTERM and checks that it removed its socket. As root,
# it then runs reactord as uid 65534 on its default socket
# ($XDG_RUNTIME_DIR/reactor.sock) and checks that reactorctl refuses that
# daemon unless --trust-uid names it.
# Nothing here depends on timing beyond "the daemon answers within
# --timeout": placement decisions of the dynamic policy are not asserted.
set -u

REACTORD=${1:?usage: reactorctl_e2e.sh <reactord> <reactorctl>}
REACTORCTL=${2:?usage: reactorctl_e2e.sh <reactord> <reactorctl>}
SOCK=/tmp/rc-$$.sock
LOG=$(mktemp /tmp/rc-e2e-log.XXXXXX)
OUT=$(mktemp /tmp/rc-e2e-out.XXXXXX)
ERR=$(mktemp /tmp/rc-e2e-err.XXXXXX)
DAEMON=
FAILURES=0

if ! command -v python3 >/dev/null; then echo "SKIP: python3 is needed to check --json output"; exit 77; fi
if [[ $(nproc) -lt 2 ]]; then echo "SKIP: reactord -m 0-1 needs two cores, this process may use $(nproc)"; exit 77; fi

cleanup() {
  if [[ -n $DAEMON ]] && kill -0 "$DAEMON" 2>/dev/null; then
    kill -TERM "$DAEMON" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DAEMON" 2>/dev/null
  fi
  rm -f "$LOG" "$OUT" "$ERR" "$SOCK" "$SOCK.lock"
  [[ -n ${XDG:-} ]] && rm -rf "$XDG"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "--- stdout:" >&2; cat "$OUT" >&2
  echo "--- stderr:" >&2; cat "$ERR" >&2
  FAILURES=$((FAILURES + 1))
}

# ctl <expected exit> <args...>: runs reactorctl, checks its exit status and
# that a failure printed exactly one line on stderr (and a success none).
ctl() {
  local want=$1; shift
  "$REACTORCTL" -s "$SOCK" --timeout 20 "$@" >"$OUT" 2>"$ERR"
  local rc=$?
  echo "\$ reactorctl $* -> $rc"
  if [[ $rc -ne $want ]]; then fail "reactorctl $* exited $rc, expected $want"; return 1; fi
  local lines; lines=$(wc -l <"$ERR")
  if [[ $want -eq 0 && $lines -ne 0 ]]; then fail "reactorctl $* wrote to stderr"; return 1; fi
  if [[ $want -ne 0 && $lines -ne 1 ]]; then fail "reactorctl $* wrote $lines lines to stderr"; return 1; fi
  return 0
}

# expect_out / expect_err <fixed text>: the last reactorctl printed it.
expect_out() { grep -qF -- "$1" "$OUT" || fail "stdout lacks '$1'"; }
expect_err() { grep -qF -- "$1" "$ERR" || fail "stderr lacks '$1'"; }
# expect_row <extended regex>: a line of the last stdout matches (table rows,
# whose column widths depend on the data).
expect_row() { grep -qE -- "$1" "$OUT" || fail "stdout has no line matching '$1'"; }

# ---- no daemon yet ----
ctl 1 status && expect_err "reactorctl: cannot connect to $SOCK: no such file (is reactord running?)"

# ---- start reactord ----
"$REACTORD" -m 0-1 --governor sim -r "$SOCK" >"$LOG" 2>&1 &
DAEMON=$!
for _ in $(seq 300); do
  grep -q "reactord: listening on" "$LOG" && break
  kill -0 "$DAEMON" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q "reactord: listening on" "$LOG"; then
  echo "FAIL: reactord did not start:" >&2; cat "$LOG" >&2
  exit 1
fi

ctl 0 status && { expect_out "scheduler       static"; expect_out "main core       0"; \
                  expect_out "reactors        2 on cores 0-1"; }
ctl 0 status --json && { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["scheduler_name"]=="static", d' "$OUT" \
                         || fail "status --json is not the framework_get_scheduler result"; }

# ---- load: one busy, one idle, one pinned to core 1 ----
ctl 0 call scheduler_thread_create '{"active":50,"name":"e2e_busy"}' && BUSY_ID=$(tr -d '[:space:]' <"$OUT")
ctl 0 call scheduler_thread_create '{"active":0,"name":"e2e_idle"}' && IDLE_ID=$(tr -d '[:space:]' <"$OUT")
ctl 0 call scheduler_thread_create '{"active":30,"name":"e2e_pinned","cpu_mask":"[1]"}'
[[ ${BUSY_ID:-x} =~ ^[0-9]+$ ]] || fail "scheduler_thread_create did not print an id: '${BUSY_ID:-}'"
[[ ${IDLE_ID:-x} =~ ^[0-9]+$ ]] || fail "scheduler_thread_create did not print an id: '${IDLE_ID:-}'"

ctl 0 reactors && { expect_out "CORE  MODE"; expect_out "e2e_busy"; expect_out "e2e_pinned"; }
ctl 0 threads && { expect_out "e2e_busy"; expect_out "e2e_idle"; }
ctl 0 pollers && expect_out "e2e_busy"

# ---- static -> dynamic ----
ctl 0 switch dynamic --period-us 200000 --load-limit 20 && \
  expect_out "switched to dynamic (period 200000 us, load_limit 20, core_limit 80, core_busy 95"
ctl 0 status && { expect_out "scheduler       dynamic"; expect_out "period          200000 us"; \
                  expect_out "options         load_limit=20 core_limit=80 core_busy=95"; \
                  expect_out "last switch"; }
ctl 0 reactors --interval 300 && { expect_out "busy % over the last 300 ms"; expect_out "e2e_busy"; }
ctl 0 threads --interval 300 && { expect_out "busy % over the last 300 ms"; expect_out "e2e_idle"; }
ctl 0 history && { expect_out "transitions:"; expect_row "^ +[0-9]+ .* static +dynamic +dynamic .* ok$"; }

# ---- dynamic -> global -> static ----
ctl 0 switch global && expect_out "switched to gscheduler"
ctl 0 governor && { expect_out "governor: sim"; expect_out "CORE  CURRENT MHz"; }
ctl 0 status && expect_out "scheduler       gscheduler"
ctl 0 switch static && expect_out "switched to static"
ctl 0 status && expect_out "scheduler       static"
ctl 0 history && { expect_row " dynamic +gscheduler +gscheduler .* ok$"; \
                   expect_row " gscheduler +static +static .* ok$"; }

# ---- errors against the live daemon ----
ctl 2 switch dynamic --load-limit 101 && expect_err "reactorctl: switch: --load-limit 101 is not a percentage (0..100)"
ctl 1 switch static --mappings 999999:0 && { expect_err "reactorctl: switch failed: "; expect_err "(code -32603)"; }
ctl 1 call scheduler_thread_set_active "{\"thread_id\":${BUSY_ID:-1},\"active\":101}" && expect_err "(code -22)"
ctl 1 call no_such_method && expect_err "(code -32601)"
ctl 0 status && expect_out "scheduler       static"   # the failed requests changed nothing

ctl 0 call scheduler_thread_delete "{\"thread_id\":${IDLE_ID:-1}}" && expect_out "true"

# ---- stop ----
kill -TERM "$DAEMON"
for _ in $(seq 300); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$DAEMON" 2>/dev/null; then
  fail "reactord still running 30 s after SIGTERM"
else
  wait "$DAEMON"; rc=$?
  [[ $rc -eq 0 ]] || fail "reactord exited $rc after SIGTERM"
fi
DAEMON=
[[ -e $SOCK ]] && fail "reactord left its socket behind"
ctl 1 status && expect_err "no such file (is reactord running?)"

# ---- a daemon of another uid, on its default socket (root only) ----
XDG=
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  AS_NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  env -u XDG_RUNTIME_DIR "${AS_NOBODY[@]}" "$REACTORD" -m 0-1 >"$OUT" 2>"$ERR"; rc=$?
  [[ $rc -eq 2 ]] || fail "reactord without -r nor XDG_RUNTIME_DIR exited $rc, expected 2"
  expect_err "reactord: no default RPC socket for uid 65534: XDG_RUNTIME_DIR is not set; pass -r PATH"
  XDG=$(mktemp -d /tmp/rc-xdg.XXXXXX)
  chown 65534:65534 "$XDG"
  SOCK=$XDG/reactor.sock
  : >"$LOG"  # truncated here, not in the child: the wait below must not see the first daemon's line
  env XDG_RUNTIME_DIR="$XDG" "${AS_NOBODY[@]}" "$REACTORD" -m 0-1 --governor sim --mode interrupt >"$LOG" 2>&1 &
  DAEMON=$!
  for _ in $(seq 300); do
    grep -q "reactord: listening on" "$LOG" && break
    kill -0 "$DAEMON" 2>/dev/null || break
    sleep 0.1
  done
  if grep -qF "reactord: listening on $SOCK " "$LOG"; then
    ctl 1 status && expect_err "reactorctl: refusing the server at $SOCK: it runs as uid 65534, not as us (uid 0) or root (pass --trust-uid 65534 if you trust it)"
    ctl 0 status --trust-uid 65534 && expect_out "scheduler       static"
    # As that uid, reactorctl finds the daemon at the same default path.
    env -u REACTOR_SOCKET XDG_RUNTIME_DIR="$XDG" "${AS_NOBODY[@]}" "$REACTORCTL" status >"$OUT" 2>"$ERR" \
      || fail "reactorctl as uid 65534 with the default socket failed"
    expect_out "scheduler       static"
    kill -TERM "$DAEMON"
    for _ in $(seq 300); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.1; done
    wait "$DAEMON"; rc=$?
    [[ $rc -eq 0 ]] || fail "reactord as uid 65534 exited $rc after SIGTERM"
    DAEMON=
    [[ -e $SOCK ]] && fail "reactord as uid 65534 left its socket behind"
  else
    fail "reactord as uid 65534 did not listen on $SOCK: $(cat "$LOG")"
  fi
else
  echo "(skipping the other-uid checks: needs root and setpriv)"
fi

if [[ $FAILURES -ne 0 ]]; then
  echo "--- reactord log:" >&2; cat "$LOG" >&2
  echo "$FAILURES check(s) failed" >&2
  exit 1
fi
echo "reactorctl e2e: all checks passed"
