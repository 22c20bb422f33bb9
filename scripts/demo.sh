#!/usr/bin/env bash
# demo.sh - shows `async` at work against the scripted test server.
#
# Usage: scripts/demo.sh PATH-TO-ASYNC
#
# Starts tests/server/ahttp_test_server.py on a free 127.0.0.1 port, then
#   1. GETs 1 MiB from /bytes/1048576 and compares the SHA-256 of what was
#      received with the X-Body-Sha256 the server announces;
#   2. POSTs a 1 MiB file to /upload and compares its SHA-256 and length
#      with what the server says it received;
#   3. GETs through a 302 that sets a cookie to a gzip body, with
#      --compressed and -c: the redirect is followed, the cookie saved, and
#      the decoded bytes compared with the SHA-256 of the original.
# The trace of each run is shown as it happens. The server is stopped by
# its process id, on failure too. Exit status 0 only if both runs succeed
# and every digest matches. Set DEMO_KEEP=1 to keep the work directory.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 PATH-TO-ASYNC (an executable)" >&2
  exit 2
fi
async_bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
server_script=$root/tests/server/ahttp_test_server.py
python=${PYTHON3:-python3}
size=1048576

if [ ! -f "$server_script" ]; then
  echo "demo: the test server $server_script is missing" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ahttp-demo.XXXXXX")
server_pid=""

stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}

cleanup() {
  stop_server
  if [ "${DEMO_KEEP:-0}" = 1 ]; then
    echo "demo: files kept in $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

heading() {
  printf '\n==== %s\n' "$*"
}

fail() {
  echo "demo: $*" >&2
  exit 1
}

# ---- the server ----
heading "starting the scripted test server"
: >"$work/server.out"
"$python" "$server_script" --port 0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(awk '/^PORT [0-9]+$/ { print $2; exit }' "$work/server.out")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || {
    cat "$work/server.err" >&2
    fail "the test server exited before listening"
  }
  sleep 0.1
done
[ -n "$port" ] || fail "the test server did not print its port within 10 s"
echo "listening on 127.0.0.1:$port (pid $server_pid)"

# ---- the file to post ----
upload=$work/upload.bin
if [ -f "$root/tests/server/bodies.py" ]; then
  # A deterministic body with another seed than the GET's, so the two
  # checks cannot agree by accident.
  "$python" -c 'import sys; sys.path.insert(0, sys.argv[1]); import bodies
bodies.write_body(sys.argv[2], int(sys.argv[3]), seed=7)' \
    "$root/tests/server" "$upload" "$size"
else
  head -c "$size" /dev/urandom >"$upload"
fi

sha256_of() {
  sha256sum "$1" | awk '{ print $1 }'
}

length_of() {
  wc -c <"$1" | tr -d ' '
}

# Runs async with its trace (stderr) merged into stdout, so the two stay in
# order when the demo's output is piped; fails the demo if async fails.
run_async() {
  echo "\$ async $*"
  local status=0
  "$async_bin" "$@" 2>&1 || status=$?
  [ "$status" -eq 0 ] || fail "async exited with status $status"
}

verdict() {
  if [ "$1" = "$2" ]; then
    echo "  -> match"
  else
    echo "  -> MISMATCH"
    mismatches=$((mismatches + 1))
  fi
}
mismatches=0

# ---- GET ----
heading "GET /bytes/$size"
run_async -h "127.0.0.1:$port" -o "/bytes/$size" -w "$work/response.htm"
announced=$("$python" - "$port" "$size" <<'EOF'
import http.client
import sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
conn.request("HEAD", "/bytes/" + sys.argv[2])
print(conn.getresponse().getheader("X-Body-Sha256", "(none)"))
EOF
)
got_sha=$(sha256_of "$work/response.htm")
got_len=$(length_of "$work/response.htm")
heading "GET result"
echo "  received by async    : $got_sha ($got_len bytes)"
echo "  server says it sent  : $announced ($size bytes, X-Body-Sha256)"
verdict "$got_sha $got_len" "$announced $size"

# ---- POST ----
heading "POST /upload with $size bytes"
run_async -m POST -h "127.0.0.1:$port" -o /upload -r "$upload" \
  -w "$work/post-answer.txt"
sent_sha=$(sha256_of "$upload")
sent_len=$(length_of "$upload")
read -r told_sha told_len <"$work/post-answer.txt" || true
heading "POST result"
echo "  posted by async          : $sent_sha ($sent_len bytes)"
echo "  server says it received  : ${told_sha:-(nothing)} (${told_len:-?} bytes)"
verdict "$sent_sha $sent_len" "${told_sha:-} ${told_len:-}"

# ---- redirect + cookie + gzip ----
target="/redirect/302?to=%2Fgzip%2F$size&c=demo%3Dyes%3B+Path%3D%2F"
heading "GET $target"
run_async -h "127.0.0.1:$port" -o "$target" --compressed \
  -c "$work/cookies.txt" -w "$work/decoded.bin"
plain_sha=$("$python" - "$port" "$size" <<'EOF'
import http.client
import sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
conn.request("HEAD", "/gzip/" + sys.argv[2])
print(conn.getresponse().getheader("X-Body-Sha256", "(none)"))
EOF
)
got_sha=$(sha256_of "$work/decoded.bin")
heading "redirect + gzip result"
echo "  decoded by async          : $got_sha"
echo "  server's original bytes   : $plain_sha"
verdict "$got_sha" "$plain_sha"
echo "  cookie jar written by -c  :"
grep -v '^#' "$work/cookies.txt" | sed '/^$/d; s/^/    /'
if ! grep -q "demo" "$work/cookies.txt"; then
  echo "  -> the cookie is MISSING"
  mismatches=$((mismatches + 1))
fi

stop_server
heading "summary"
if [ "$mismatches" -ne 0 ]; then
  echo "$mismatches MISMATCH(ES)"
  exit 1
fi
echo "all digests match"
