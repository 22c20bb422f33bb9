#!/usr/bin/env bash
# valgrind_cli.sh - valgrind memcheck on the paths of `async` that users take
# most: a GET, a POST, an HTTPS GET and a -t time-out, each against the
# scripted server (tests/server/ahttp_test_server.py) on 127.0.0.1.
#
# Usage: valgrind_cli.sh [ASYNC_BINARY]
#   ASYNC_BINARY defaults to $AHTTP_ASYNC. The source tree is
#   $AHTTP_SOURCE_DIR (default: two levels above this script); python3 is
#   $PYTHON3 (default: python3).
#
# Each run must end with its expected exit status (0, 0, 0 and 5) and with
# valgrind reporting no error: memory errors and definite or indirect
# leaks make valgrind exit 99 (--error-exitcode) and show in its log, which
# is printed when a run fails. Bodies are checked against the server's
# deterministic bodies (tests/server/bodies.py).
#
# This cannot run under AddressSanitizer or ThreadSanitizer builds (their
# runtimes and valgrind exclude each other): register it in the plain
# build only. It exits 0 when every run passed, 1 otherwise, and 77 (CTest's
# SKIP_RETURN_CODE convention) when valgrind is not installed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
source_dir=${AHTTP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
async=${1:-${AHTTP_ASYNC:-}}
python=${PYTHON3:-python3}
server_script=${AHTTP_TEST_SERVER:-$source_dir/tests/server/ahttp_test_server.py}

if [ -z "$async" ] || [ ! -x "$async" ]; then
  echo "valgrind_cli.sh: no async binary (give its path or set AHTTP_ASYNC)" >&2
  exit 1
fi
async=$(cd "$(dirname "$async")" && pwd)/$(basename "$async")
if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind_cli.sh: valgrind is not installed; skipped" >&2
  exit 77
fi

work=$(mktemp -d /tmp/ahttp-valgrind-XXXXXX)
server_pids=()
cleanup() {
  for pid in "${server_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${server_pids[@]}"; do
    wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

# start_server NAME [ARGS...]: starts the scripted server, waits for its
# "PORT <n>" line and sets PORT. Stopped by pid in cleanup.
start_server() {
  local name=$1
  shift
  "$python" "$server_script" --port 0 "$@" >"$work/$name.out" \
    2>"$work/$name.err" &
  server_pids+=($!)
  local i
  for i in $(seq 1 150); do
    PORT=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$work/$name.out")
    if [ -n "$PORT" ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "valgrind_cli.sh: the $name server did not start:" >&2
  cat "$work/$name.err" >&2
  exit 1
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
body_sha() {
  "$python" -c "import sys; sys.path.insert(0, sys.argv[1]); import bodies; \
print(bodies.body_sha256(int(sys.argv[2])))" "$source_dir/tests/server" "$1"
}

failures=0

# run NAME EXPECTED_EXIT ASYNC_ARGS...: runs async under valgrind in its own
# folder; checks the exit status and valgrind's error summary.
run() {
  local name=$1 expected=$2
  shift 2
  mkdir -p "$work/$name"
  local log="$work/$name/valgrind.log"
  local start=$SECONDS
  (cd "$work/$name" &&
    valgrind --error-exitcode=99 --leak-check=full \
      --errors-for-leak-kinds=definite,indirect \
      --show-leak-kinds=definite,indirect \
      --log-file="$log" "$async" "$@" >stdout.txt 2>stderr.txt)
  local status=$?
  if [ "$status" -ne "$expected" ] ||
    ! grep -q "ERROR SUMMARY: 0 errors from 0 contexts" "$log"; then
    echo "FAIL $name: exit $status (expected $expected)" >&2
    echo "--- valgrind log:" >&2
    cat "$log" >&2
    echo "--- async stderr (last lines):" >&2
    tail -n 20 "$work/$name/stderr.txt" >&2
    failures=$((failures + 1))
    return 1
  fi
  echo "ok   $name: exit $status, no valgrind errors ($((SECONDS - start)) s)"
  return 0
}

# check_file NAME FILE SHA: the output file has that SHA-256.
check_file() {
  local got
  got=$(sha_of "$work/$1/$2" 2>/dev/null)
  if [ "$got" != "$3" ]; then
    echo "FAIL $1: $2 has SHA-256 '${got}', expected $3" >&2
    failures=$((failures + 1))
  fi
}

start_server http --log "$work/http.log"
http_port=$PORT

"$source_dir/tests/support/make_certs.sh" "$work/pki" >"$work/pki.log" 2>&1 || {
  echo "valgrind_cli.sh: make_certs.sh failed:" >&2
  cat "$work/pki.log" >&2
  exit 1
}
start_server https --tls-cert "$work/pki/server.pem" \
  --tls-key "$work/pki/server.key"
https_port=$PORT

size=300000
want=$(body_sha $size)

if run get 0 -h "127.0.0.1:$http_port" -o "/bytes/$size?framing=chunked" \
  -w out.bin; then
  check_file get out.bin "$want"
fi

mkdir -p "$work/post"
head -c 1048576 /dev/urandom >"$work/post/in.bin"
post_sha=$(sha_of "$work/post/in.bin")
if run post 0 -m POST -h "127.0.0.1:$http_port" -o /upload -r in.bin \
  -w out.txt; then
  if [ "$(cat "$work/post/out.txt")" != "$post_sha 1048576" ]; then
    echo "FAIL post: the server received '$(cat "$work/post/out.txt")'," \
      "expected '$post_sha 1048576'" >&2
    failures=$((failures + 1))
  fi
fi

if run https_get 0 -s --cacert "$work/pki/ca.pem" \
  -h "127.0.0.1:$https_port" -o "/bytes/$size" -w out.bin; then
  check_file https_get out.bin "$want"
fi

# The -t limit passes while the server sits on the request: exit 5, no
# output file, and every handle closed through the cancel path.
if run timeout 5 -h "127.0.0.1:$http_port" -o /stall -w out.bin -t 2000; then
  if [ -e "$work/timeout/out.bin" ]; then
    echo "FAIL timeout: an output file was left" >&2
    failures=$((failures + 1))
  fi
fi

if [ "$failures" -ne 0 ]; then
  echo "valgrind_cli.sh: $failures failure(s)" >&2
  exit 1
fi
echo "valgrind_cli.sh: all runs clean"
exit 0
