#!/usr/bin/env python3
"""reactorctl top end to end: the real reactorctl against a real reactord.

    reactorctl_top_e2e.py <reactord> <reactorctl>

Starts reactord (cores 0-1, interrupt mode), creates a hot (60 %) and a cool
(5 %) load thread and one whose name carries an escape sequence, then checks:
--once prints one frame (cores, threads, pollers) sorted by the key asked for;
names are escaped (no raw control byte reaches the terminal); without a
terminal top prints one frame and exits; bad options exit 2 with one line;
on a pseudo-terminal the live view redraws until 'q' or Ctrl-C and then
restores the terminal (alternate screen left, cursor shown, termios as
before). Orders between the hot and the cool thread are the only load-based
checks (60 % vs 5 % of a core over 0.5 s). Exit 77 (skipped) with fewer than
two cores.
"""
import os
import fcntl
import re
import select
import subprocess
import sys
import termios
import time

REACTORD, REACTORCTL = sys.argv[1], sys.argv[2]
SOCK = f"/tmp/rtop-{os.getpid()}.sock"
failures = []


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    failures.append(msg)


def ctl(*args, want=0, stdin=subprocess.DEVNULL):
    r = subprocess.run([REACTORCTL, "-s", SOCK, "--timeout", "20", *args], stdin=stdin,
                       capture_output=True, timeout=60)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    print(f"$ reactorctl {' '.join(args)} -> {r.returncode}")
    if r.returncode != want:
        fail(f"reactorctl {' '.join(args)} exited {r.returncode}, expected {want}\n{out}\n{err}")
    lines = err.count("\n")
    if (want == 0 and lines != 0) or (want != 0 and lines != 1):
        fail(f"reactorctl {' '.join(args)} wrote {lines} lines to stderr: {err}")
    return out, err, r.stdout


def row_index(out, name):
    for i, line in enumerate(out.splitlines()):
        if re.search(rf"\s{re.escape(name)}\s", f" {line} "):
            return i
    return -1


def thread_rows(out):
    """The THREADS table's lines."""
    lines = out.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("THREADS ")), None)
    if start is None:
        return []
    rows = []
    for l in lines[start + 2:]:
        if not l.strip():
            break
        rows.append(l)
    return rows


def live(*keys_or_signal):
    """Runs `top --interval 100` on a pty (its controlling terminal); after two
    frames, sends the given bytes. Returns (exit status, output bytes,
    termios before, termios after)."""
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen([REACTORCTL, "-s", SOCK, "--timeout", "20", "top", "--interval", "100"],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    pid = proc.pid
    data = b""
    deadline = time.time() + 30
    sent = False
    status = None
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            data += chunk
        if not sent and len(re.findall(rb"THREADS \d+\r?\n", data)) >= 2:
            for k in keys_or_signal:
                os.write(master, k)
            sent = True
        if proc.poll() is not None:
            status = proc.returncode
            break
    if status is None:
        proc.kill()
        proc.wait()
        fail(f"top did not exit after {keys_or_signal!r}")
    try:
        while True:
            r, _, _ = select.select([master], [], [], 0.2)
            if not r:
                break
            chunk = os.read(master, 65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    after_attrs = termios.tcgetattr(slave)
    os.close(slave)
    os.close(master)
    return status, data, before, after_attrs


def main():
    if len(os.sched_getaffinity(0)) < 2:
        print("SKIP: reactord -m 0-1 needs two cores")
        return 77
    log = open(f"/tmp/rtop-{os.getpid()}.log", "w+")
    d = subprocess.Popen([REACTORD, "-m", "0-1", "--mode", "interrupt", "--governor", "sim", "-r", SOCK,
                          "--log-level", "warn"], stdout=log, stderr=log)
    try:
        for _ in range(300):
            log.seek(0)
            if "reactord: listening on" in log.read():
                break
            time.sleep(0.1)
        else:
            fail("reactord did not start")
            return 1
        ctl("call", "scheduler_thread_create", '{"active":60,"name":"hot"}')
        ctl("call", "scheduler_thread_create", '{"active":5,"name":"cool"}')
        ctl("call", "scheduler_thread_create", '{"active":1,"name":"evil\\u001b[2J\\u0007"}')

        # One frame: every table, rows for every thread and poller.
        out, _, raw = ctl("top", "--once", "--interval", "500")
        for text in ("reactorctl top", "CORES 2", "THREADS 3", "POLLERS 3", "BUSY%", "RUNS/S", "sort busy"):
            if text not in out:
                fail(f"top --once lacks '{text}':\n{out}")
        rows = thread_rows(out)
        names = [r.split()[1] for r in rows if len(r.split()) > 1]
        if names[:1] != ["hot"]:
            fail(f"sort busy: hot (60 %) should come first, got {names}:\n{out}")
        if names.index("hot") > names.index("cool"):
            fail(f"sort busy: hot before cool, got {names}")
        # Names are escaped: no control byte but the newlines.
        if re.search(rb"[\x00-\x09\x0b-\x1f\x7f]", raw):
            fail(f"top printed a raw control byte: {raw!r}")
        if "evil\\e[2J\\x07" not in out:
            fail(f"the escaped name is missing:\n{out}")

        out, _, _ = ctl("top", "--once", "--interval", "100", "--sort", "name")
        names = [r.split()[1] for r in thread_rows(out)]
        if names != sorted(names):
            fail(f"sort name: {names} is not in name order")
        out, _, _ = ctl("top", "--once", "--interval", "100", "--sort", "id")
        ids = [int(r.split()[0]) for r in thread_rows(out)]
        if ids != sorted(ids) or len(ids) != 3:
            fail(f"sort id: {ids}")

        # Not a terminal: one frame, then exit (no --once needed, no escape sequences).
        out, _, raw = ctl("top", "--interval", "100")
        if len(re.findall(r"^THREADS \d+$", out, re.M)) != 1 or b"\x1b" in raw:
            fail(f"top without a terminal should print exactly one plain frame:\n{raw!r}")

        # Bad input: one line, exit 2.
        _, err, _ = ctl("top", "--sort", "bogus", want=2)
        if "top: --sort 'bogus' is not a sort key (busy, id, name, core, runs)" not in err:
            fail(f"--sort bogus: {err}")
        _, err, _ = ctl("top", "--interval", "0", want=2)
        if "--interval: '0' is not a number of milliseconds" not in err:
            fail(f"--interval 0: {err}")
        ctl("top", "--json", want=2)

        # Live on a pseudo-terminal: 'q' quits and restores the terminal.
        for label, keys in (("q", [b"q"]), ("Ctrl-C", [b"\x03"])):
            status, data, before, after = live(*keys)
            if status is None:
                continue
            if status != 0:
                fail(f"{label}: top exited with status {status}")
            if b"\x1b[?1049h" not in data:
                fail(f"{label}: the live view did not enter the alternate screen")
            if not data.rstrip(b"\r\n").endswith(b"\x1b[?25h\x1b[?1049l"):
                fail(f"{label}: the terminal was not restored at exit: ...{data[-80:]!r}")
            if before != after:
                fail(f"{label}: termios differ after top exited: {before} vs {after}")
            if len(re.findall(rb"THREADS \d+\r?\n", data)) < 2:
                fail(f"{label}: fewer than two frames drawn")
            print(f"$ reactorctl top (pty, {label}) -> exit 0, terminal restored")

        # The daemon gone: one line, exit 1.
        d.terminate()
        d.wait(timeout=60)
        _, err, _ = ctl("top", "--once", "--interval", "100", want=1)
        if "cannot connect" not in err:
            fail(f"top without a daemon: {err}")
    finally:
        if d.poll() is None:
            d.kill()
            d.wait()
        for p in (SOCK, SOCK + ".lock", log.name):
            try:
                os.unlink(p)
            except OSError:
                pass
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("reactorctl top e2e: all checks passed")
    return 0


sys.exit(main())
