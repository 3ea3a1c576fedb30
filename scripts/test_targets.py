#!/usr/bin/env python3
"""Prints the build targets the tests selected by a ctest label need, one per
line, for scripts/test.sh --label (the TSan run builds only what its
`concurrent` tests run, not the whole tree).

usage: test_targets.py BUILD_DIR LABEL

A test registered by reactor_add_test is named after its target (its own
dependencies, such as reactord for the reactord_* tests, come with it through
add_dependencies). A test run through a script names the binaries it runs
($<TARGET_FILE:...>) on its command line: those paths under BUILD_DIR are
ninja targets. Exit 1 with a one-line message when a test's target cannot be
found, so that the caller builds everything instead of too little.
"""
import json
import os
import subprocess
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: test_targets.py BUILD_DIR LABEL", file=sys.stderr)
        return 2
    bdir, label = os.path.realpath(sys.argv[1]), sys.argv[2]
    shown = subprocess.run(["ctest", "--test-dir", bdir, "--show-only=json-v1", "-L", label],
                           capture_output=True, text=True, check=True)
    tests = json.loads(shown.stdout).get("tests", [])
    if not tests:
        print(f"test_targets.py: no test has the label '{label}'", file=sys.stderr)
        return 1
    listed = subprocess.run(["ninja", "-C", bdir, "-t", "targets", "all"], capture_output=True, text=True,
                            check=True).stdout
    known = {line.split(":", 1)[0] for line in listed.splitlines()}
    targets = []
    for t in tests:
        cmd = t.get("command") or []
        # ctest leaves the command empty while the test's executable is not
        # built yet; the test is then a reactor_add_test target of that name.
        paths = [os.path.relpath(a, bdir) for a in cmd if os.path.isabs(a) and a.startswith(bdir + "/")]
        names = paths if cmd else [t["name"]]
        for n in names:
            if n not in known:
                print(f"test_targets.py: test '{t['name']}' needs '{n}', which is no target of {bdir}",
                      file=sys.stderr)
                return 1
            if n not in targets:
                targets.append(n)
    print("\n".join(targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
