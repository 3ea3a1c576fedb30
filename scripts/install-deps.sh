#!/usr/bin/env bash
# Installs everything reactor needs to build, test and benchmark on Debian 12.
# Used by the README commands and by .ci/run; safe to run again.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config git clang-14 libclang-rt-14-dev
  libdpdk-dev liburing-dev libhwloc-dev hwloc libfmt-dev libspdlog-dev
  help2man man-db systemd
  libgtest-dev libgmock-dev libbenchmark-dev libexpected-dev librapidcheck-dev
  nlohmann-json3-dev libcli11-dev fio python3 libnbd-bin systemtap-sdt-dev
  # headless screenshot of the policy-lab HTML report (ctest -L screenshot)
  chromium
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
