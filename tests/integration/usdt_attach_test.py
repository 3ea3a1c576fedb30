#!/usr/bin/env python3
"""USDT probes fire when attached: reactord in interrupt mode under perf.

    usdt_attach_test.py <libreactor.so> <reactord>

Reads the reactor:reactor_sleep / reactor_wake notes of the library
(readelf -n), places a uprobe on each through tracefs under a group of its
own (reactor_test_<pid>), counts them with `perf stat` over a reactord run of
two seconds (an idle interrupt-mode reactor sleeps and wakes on its timeout),
and removes the uprobes. Both counts must be above zero and differ by at most
the number of reactors (a sleep in progress when reactord stops). Exit 77
(skipped) when not root, without perf, without a writable tracefs, or when
the kernel refuses the uprobe (containers without CAP_SYS_ADMIN).
"""
import os
import re
import shutil
import subprocess
import sys

LIB, REACTORD = os.path.realpath(sys.argv[1]), sys.argv[2]
TRACEFS = next((p for p in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
                if os.path.exists(os.path.join(p, "uprobe_events"))), None)
GROUP = f"reactor_test_{os.getpid()}"


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def probe_addresses():
    text = subprocess.run(["readelf", "-n", LIB], capture_output=True, text=True, check=True).stdout
    out = {}
    for m in re.finditer(r"Provider: (\w+)\s+Name: (\w+)\s+Location: (0x[0-9a-f]+)", text):
        if m.group(1) == "reactor":
            out.setdefault(m.group(2), []).append(int(m.group(3), 16))
    return out


def vaddr_to_offset(addr):
    text = subprocess.run(["readelf", "-lW", LIB], capture_output=True, text=True, check=True).stdout
    for m in re.finditer(r"LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)", text):
        off, vaddr, filesz = int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16)
        if vaddr <= addr < vaddr + filesz:
            return addr - vaddr + off
    raise RuntimeError(f"address {addr:#x} is in no LOAD segment")


def write_events(events, line):
    # os.write: Python's "a" mode seeks to the end, which tracefs refuses (EINVAL).
    fd = os.open(events, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def main():
    if os.geteuid() != 0:
        skip("uprobes need root")
    if shutil.which("perf") is None:
        skip("perf is not installed")
    if TRACEFS is None:
        skip("no tracefs with uprobe_events")
    addrs = probe_addresses()
    for name in ("reactor_sleep", "reactor_wake"):
        if name not in addrs:
            print(f"FAIL: probe reactor:{name} is not in {LIB}", file=sys.stderr)
            return 1
    events = os.path.join(TRACEFS, "uprobe_events")
    added = []
    try:
        for name in ("reactor_sleep", "reactor_wake"):
            for i, a in enumerate(addrs[name]):
                ev = f"{name}_{i}"
                try:
                    write_events(events, f"p:{GROUP}/{ev} {LIB}:{vaddr_to_offset(a):#x}\n")
                except OSError as e:
                    skip(f"the kernel refused a uprobe: {e}")
                added.append(ev)
        sock = f"/tmp/usdt-{os.getpid()}.sock"
        cmd = ["perf", "stat", "-x,"]
        for ev in added:
            cmd += ["-e", f"{GROUP}:{ev}"]
        cmd += ["--", "timeout", "-s", "TERM", "2", REACTORD, "-m", "0-1", "--mode", "interrupt", "--governor",
                "none", "-r", sock, "--log-level", "error"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if "not supported" in r.stderr or "No permission" in r.stderr:
            skip(f"perf cannot count uprobes here: {r.stderr.strip().splitlines()[-1]}")
        counts = {"reactor_sleep": 0, "reactor_wake": 0}
        for line in r.stderr.splitlines():
            parts = line.split(",")
            if len(parts) > 2 and parts[2].startswith(GROUP + ":"):
                name = parts[2].split(":", 1)[1].rsplit("_", 1)[0]
                if parts[0].strip().isdigit():
                    counts[name] += int(parts[0])
        print(f"reactord (interrupt mode, 2 s): {counts}")
        ok = counts["reactor_sleep"] > 0 and counts["reactor_wake"] > 0 and \
            0 <= counts["reactor_sleep"] - counts["reactor_wake"] <= 2
        if not ok:
            print(f"FAIL: expected sleeps and wakes in step, got {counts}\n{r.stderr}", file=sys.stderr)
            return 1
        return 0
    finally:
        for ev in added:
            try:
                write_events(events, f"-:{GROUP}/{ev}\n")
            except OSError:
                pass


sys.exit(main())
