#!/usr/bin/env bash
# cmake --install into a temporary prefix, then `systemd-analyze verify` on
# the installed reactord.service (no running systemd needed): the unit's
# syntax, that ExecStart=/ExecStopPost= name installed executables, and that
# the man pages in Documentation= are installed (MANPATH is the prefix's).
# Also the library's soname policy (README "ABI of libreactor"): the
# installed libreactor.so is libreactor.so.0 -> libreactor.so.0.<minor>.<patch>.
#   reactord_service_verify.sh <build dir>
set -euo pipefail
build=${1:?usage: reactord_service_verify.sh <build dir>}
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
lib=$(find "$work/prefix" -name 'libreactor.so.0.*' -type f | head -1)
[[ -n $lib ]] || { echo "FAIL: no libreactor.so.0.* installed" >&2; exit 1; }
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[[ $soname == libreactor.so.0 ]] || { echo "FAIL: $lib has SONAME '$soname', expected libreactor.so.0" >&2; exit 1; }
[[ $(readlink "$(dirname "$lib")/libreactor.so.0") == $(basename "$lib") ]] \
  || { echo "FAIL: libreactor.so.0 does not link to $(basename "$lib")" >&2; exit 1; }
unit=$work/prefix/lib/systemd/system/reactord.service
test -s "$unit" || { echo "FAIL: cmake --install did not install $unit" >&2; exit 1; }
grep -qF "ExecStart=$work/prefix/bin/reactord " "$unit" || { echo "FAIL: ExecStart does not name the installed reactord" >&2; exit 1; }
for page in reactord reactorctl reactor-bench; do
  test -s "$work/prefix/share/man/man1/$page.1" || { echo "FAIL: man page $page.1 not installed" >&2; exit 1; }
done
# verify prints problems on stderr and may still exit 0 for some of them:
# any output is a failure.
if ! out=$(MANPATH="$work/prefix/share/man" SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$unit" 2>&1) || [[ -n $out ]]; then
  echo "FAIL: systemd-analyze verify $unit:" >&2
  echo "$out" >&2
  exit 1
fi
echo "reactord.service: systemd-analyze verify passed ($unit)"
