# bench/lib.sh - sourced by run.sh and smoke.sh: the work directory, the
# data files, a throw-away certificate, and our own nginx on 127.0.0.1.
#
# After bench_nginx_start: BENCH_PORT, BENCH_TLS_PORT, BENCH_NGINX_PID.
# bench_cleanup (installed as an EXIT trap by the callers) stops nginx by
# its pid and removes the work directory.

BENCH_NGINX_BIN=${BENCH_NGINX_BIN:-/usr/sbin/nginx}
BENCH_ECHO_MODULE=${BENCH_ECHO_MODULE:-/usr/lib/nginx/modules/ngx_http_echo_module.so}
BENCH_NGINX_PID=""
BENCH_WORK=""

bench_log() { printf '%s\n' "bench: $*" >&2; }

# A work directory on /dev/shm (RAM) when there is one, else /tmp.
bench_make_work() {
  local base=/dev/shm
  [ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
  BENCH_WORK=$(mktemp -d "$base/ahttp-bench.XXXXXX")
  mkdir -p "$BENCH_WORK/root" "$BENCH_WORK/nginx" "$BENCH_WORK/out"
}

# bench_make_file NAME BYTES: pseudo-random contents (incompressible).
bench_make_file() {
  local path="$BENCH_WORK/root/$1" bytes=$2
  head -c "$bytes" /dev/urandom >"$path"
  cat "$path" >/dev/null # once through the page cache
}

# A self-signed certificate for 127.0.0.1 made now; also the CA file.
bench_make_cert() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$BENCH_WORK/nginx/key.pem" -out "$BENCH_WORK/nginx/cert.pem" \
    >/dev/null 2>&1
}

bench_free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

bench_write_nginx_conf() {
  local d="$BENCH_WORK/nginx" load=""
  [ -f "$BENCH_ECHO_MODULE" ] && load="load_module $BENCH_ECHO_MODULE;"
  cat >"$d/nginx.conf" <<EOF
$load
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  default_type application/octet-stream;
  client_body_temp_path $d/body;
  proxy_temp_path $d/proxy;
  fastcgi_temp_path $d/fastcgi;
  uwsgi_temp_path $d/uwsgi;
  scgi_temp_path $d/scgi;
  server {
    listen 127.0.0.1:$BENCH_PORT backlog=4096;
    listen 127.0.0.1:$BENCH_TLS_PORT ssl backlog=4096;
    ssl_certificate $d/cert.pem;
    ssl_certificate_key $d/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384;
    root $BENCH_WORK/root;
    # POST bodies are read to their end and dropped, and only then
    # answered. A plain "return 200" would answer at once and discard the
    # body afterwards (ngx_http_discard_request_body), which a client sees
    # as an early answer that ends its upload: no upload benchmark then.
    location = /upload {
      client_max_body_size 0;
      client_body_buffer_size 1m;
      echo_read_request_body;
      echo "ok";
    }
    # The memory rows: after the first 256 KiB the server trickles, so
    # that 10,000 paused transfers do not fill the kernel with socket
    # buffers. The client's first read is full either way.
    # One cached descriptor of the file for all of them: nginx may not
    # be allowed more than 20,000 descriptors (no CAP_SYS_RESOURCE).
    location /slow/ {
      alias $BENCH_WORK/root/;
      open_file_cache max=16 inactive=300s;
      limit_rate_after 256k;
      limit_rate 4k;
    }
  }
}
EOF
}

# Starts nginx on two free ports; retries when a port was taken meanwhile.
bench_nginx_start() {
  local attempt i d="$BENCH_WORK/nginx"
  if [ ! -f "$BENCH_ECHO_MODULE" ]; then
    bench_log "the nginx echo module ($BENCH_ECHO_MODULE) is missing;" \
      "install libnginx-mod-http-echo"
    return 1
  fi
  for attempt in 1 2 3 4 5; do
    BENCH_PORT=$(bench_free_port)
    BENCH_TLS_PORT=$(bench_free_port)
    [ "$BENCH_PORT" != "$BENCH_TLS_PORT" ] || continue
    rm -f "$d/nginx.pid"
    bench_write_nginx_conf
    # worker_rlimit_nofile is not applied without a master process, so
    # the limit is raised here as far as we may; exec keeps the pid.
    (
      ulimit -Hn 65536 2>/dev/null || true
      ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
      exec "$BENCH_NGINX_BIN" -p "$d/" -c "$d/nginx.conf" -e "$d/error.log"
    ) </dev/null >>"$d/error.log" 2>&1 &
    BENCH_NGINX_PID=$!
    for i in $(seq 1 100); do
      if ! kill -0 "$BENCH_NGINX_PID" 2>/dev/null; then
        BENCH_NGINX_PID=""
        break
      fi
      if [ -s "$d/nginx.pid" ] &&
        curl -s -o /dev/null "http://127.0.0.1:$BENCH_PORT/1k.bin"; then
        return 0
      fi
      sleep 0.05
    done
    bench_nginx_stop
  done
  bench_log "nginx did not start; its log:"
  cat "$d/error.log" >&2
  return 1
}

# Every command here may fail harmlessly (nginx already gone), and the
# callers run with `set -e`: hence the `|| true`s.
bench_nginx_stop() {
  local i
  [ -n "$BENCH_NGINX_PID" ] || return 0
  kill -TERM "$BENCH_NGINX_PID" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$BENCH_NGINX_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$BENCH_NGINX_PID" 2>/dev/null || true
  wait "$BENCH_NGINX_PID" 2>/dev/null || true
  BENCH_NGINX_PID=""
}

bench_cleanup() {
  set +e
  bench_nginx_stop
  if [ -n "$BENCH_WORK" ] && [ -d "$BENCH_WORK" ]; then
    rm -rf "$BENCH_WORK"
  fi
}
