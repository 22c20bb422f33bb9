#!/usr/bin/env bash
# bench/smoke.sh - keeps the benchmarks from rotting (CI, `make check`).
#
#   bench/smoke.sh ASYNC BENCH_BIN_DIR
#
# Runs every row of bench/bench.py once on tiny inputs (1 KiB, 64 KiB and
# 1 MiB bodies, 10 requests over 2 connections, 2 paused transfers)
# against its own nginx on 127.0.0.1, and asserts only that each program
# completes (exit 0) and prints its table. Peers that are not installed
# (wrk, hyperfine, libcurl's headers) are left out; nothing is installed.
# Timings of a smoke run mean nothing.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 ASYNC BENCH_BIN_DIR" >&2
  exit 2
fi
async=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
bindir=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)

for prog in "$async" "$bindir/ah_bench_get" "$bindir/copy_loop"; do
  [ -x "$prog" ] || { echo "smoke: $prog is not built" >&2; exit 1; }
done

. "$here/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

bench_make_work
bench_make_file 1k.bin 1024
bench_make_file 64k.bin 65536
bench_make_file 1m.bin $((1 << 20))
bench_make_cert
bench_nginx_start

python3 "$here/bench.py" --mode smoke --port "$BENCH_PORT" \
  --tls-port "$BENCH_TLS_PORT" --work "$BENCH_WORK" --bin "$bindir" \
  --async "$async" --ca "$BENCH_WORK/nginx/cert.pem"
