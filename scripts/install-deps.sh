#!/usr/bin/env bash
# Installs the Debian packages that building, testing and the demo need.
# Installs only what is missing, so a machine that has them all is not
# touched (and needs no network). Runs as root, or through sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
  libuv1-dev libssl-dev zlib1g-dev libpsl-dev publicsuffix libcmocka-dev
  python3 openssl curl nginx-light libnginx-mod-http-echo squid valgrind
  libcurl4-openssl-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d keeps the packaged nginx and squid from starting system
# services on ports 80 and 3128: the tests start their own servers on
# 127.0.0.1 only.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
