#!/usr/bin/env bash
# bench/run.sh - `make bench`: the whole measurement of issue 7 in one run.
#
# Installs what is missing (apt-get, only then), builds ahttp, async and the
# bench programs in Release (build-bench/), writes the data files into a
# work directory on /dev/shm, starts its own nginx on 127.0.0.1 and runs
# bench/bench.py, which prints the table. nginx is stopped by its pid and
# the work directory removed on any exit.
#
# Environment: BENCH_BUILD (build directory, default build-bench), JOBS (2),
# BENCH_ONLY (e.g. "rate,mem": run only these groups of rows).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=${BENCH_BUILD:-$top/build-bench}
jobs=${JOBS:-2}

install_missing() {
  local packages=(build-essential cmake pkg-config libuv1-dev libssl-dev
    python3 openssl curl nginx-light libnginx-mod-http-echo wrk
    libcurl4-openssl-dev hyperfine)
  local missing=() p sudo=""
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bench: installing ${missing[*]}" >&2
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # Keep the packaged nginx from starting a system service on port 80.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
      { $sudo rm -f /usr/sbin/policy-rc.d; return 1; }
    $sudo rm -f /usr/sbin/policy-rc.d
  else
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

install_missing

echo "bench: building (Release) in $build" >&2
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$jobs" >/dev/null

. "$here/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

bench_make_work
echo "bench: writing the data files into $BENCH_WORK" >&2
bench_make_file 1k.bin 1024
bench_make_file 64k.bin 65536
bench_make_file 100m.bin $((100 << 20))
bench_make_file 1g.bin $((1 << 30))
bench_make_cert
bench_nginx_start

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')," \
  "$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM," \
  "kernel $(uname -r)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "versions: ahttp $("$build/ahttp/async" --version 2>&1 | head -1 | tr -d '\n')," \
  "$(curl --version | head -1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | cut -d' ' -f3)," \
  "$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2 || true)"

python3 "$here/bench.py" --mode full --port "$BENCH_PORT" \
  --tls-port "$BENCH_TLS_PORT" --work "$BENCH_WORK" --bin "$build" \
  --async "$build/ahttp/async" --ca "$BENCH_WORK/nginx/cert.pem" \
  --json "$build/bench-results.json" --only "${BENCH_ONLY:-}"
