#!/usr/bin/env bash
# The generated man pages render and document every option.
#   man_pages_test.sh <man dir> <program>...
# For each program: `man -l` renders <man dir>/<name>.1 with nothing on
# stderr, and every --option that the program's --help (and each
# subcommand's --help) mentions appears in the rendered page.
set -u
dir=${1:?usage: man_pages_test.sh <man dir> <program>...}; shift
command -v man >/dev/null || { echo "SKIP: man is not installed"; exit 77; }
export ASAN_OPTIONS=detect_leaks=0
failures=0
for prog in "$@"; do
  name=$(basename "$prog")
  page=$dir/$name.1
  if [[ ! -s $page ]]; then echo "FAIL: $page is missing" >&2; failures=$((failures + 1)); continue; fi
  text=$(MANWIDTH=200 man --nh --nj -l "$page" 2>/tmp/man-err.$$)
  rc=$?
  if [[ $rc -ne 0 || -s /tmp/man-err.$$ ]]; then
    echo "FAIL: man -l $page exited $rc: $(cat /tmp/man-err.$$)" >&2; failures=$((failures + 1))
  fi
  help=$("$prog" --help)
  subs=$(awk '/^Subcommands:/{f=1;next} f&&/^  [a-z]/{print $1} f&&/^[^ ]/{f=0}' <<<"$help")
  for sub in $subs; do
    help+=$'\n'$("$prog" "$sub" --help)
    grep -qE "^ +$sub\$" <<<"$text" || { echo "FAIL: $name.1 has no section for subcommand $sub" >&2; failures=$((failures + 1)); }
  done
  options=$(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$help" | sort -u)
  [[ -n $options ]] || { echo "FAIL: no option found in $name --help" >&2; failures=$((failures + 1)); }
  for opt in $options; do
    grep -qF -- "$opt" <<<"$text" || { echo "FAIL: $name.1 does not mention $opt" >&2; failures=$((failures + 1)); }
  done
  echo "$name.1: renders, $(wc -w <<<"$options") options documented${subs:+, subcommands: $(echo $subs)}"
done
rm -f /tmp/man-err.$$
exit $((failures > 0))
