#!/usr/bin/env bash
# Generates a man page from a program's --help with help2man (build time).
#   gen_man.sh <help2man> <program> <one-line description> <version> <output>
# Subcommands listed under "Subcommands:" in --help (CLI11's layout) get a
# SUBCOMMANDS section with each one's own --help, so that every option of
# every subcommand is in the page.
set -euo pipefail
h2m=$1 prog=$2 desc=$3 version=$4 out=$5
export ASAN_OPTIONS=detect_leaks=0  # a sanitizer build runs the programs here too
inc=$(mktemp)
trap 'rm -f "$inc"' EXIT
include=()
subs=$("$prog" --help | awk '/^Subcommands:/{f=1;next} f&&/^  [a-z]/{print $1} f&&/^[^ ]/{f=0}')
if [ -n "$subs" ]; then
  echo "[SUBCOMMANDS]" >"$inc"
  for sub in $subs; do
    echo ".SS $sub"
    echo ".nf"
    # roff: escape backslashes, and a leading dot or quote would be a request.
    "$prog" "$sub" --help | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
    echo ".fi"
  done >>"$inc"
  include=(--include="$inc")
fi
"$h2m" --no-info --no-discard-stderr --version-string="$version" --name="$desc" "${include[@]}" \
  --output="$out.tmp" "$prog"
mv "$out.tmp" "$out"
