# Helpers of the remote-tier tests: real redis-server and nginx (WebDAV PUT)
# on 127.0.0.1, and more daemons than lib.sh's one. Sourced after lib.sh.

command -v redis-server >/dev/null || { echo "redis-server is not installed (packaging/install-deps.sh)" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx is not installed (packaging/install-deps.sh)" >&2; exit 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_redis PORT: a throwaway Redis (no persistence) in the foreground of
# a background job; returns once it answers PING.
start_redis() {
	local port=$1
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$WORK" --logfile "$WORK/redis-$port.log" </dev/null >/dev/null 2>&1 &
	echo $! >"$WORK/redis-$port.pid"
	wait_until "redis on $port answers" 30 "redis-cli -p $port ping 2>/dev/null | grep -q PONG"
}
redis_pid() { cat "$WORK/redis-$1.pid"; }

# start_nginx PORT [CADIR]: nginx serving $WORK/dav (PUT,
# create_full_put_path), logging each request's method, path, status and
# Authorization header; with CADIR (make_ca), over HTTPS only, with its
# server certificate.
start_nginx() {
	local port=$1 ca=${2:-} dir
	dir=$WORK/nginx-$port
	mkdir -p "$dir/data" "$dir/tmp"
	cat >"$dir/nginx.conf" <<EOF
daemon off;
worker_processes 2;
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 256; }
http {
	client_body_temp_path $dir/tmp;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
	log_format acfs '\$request_method \$uri \$status "\$http_authorization"';
	access_log $dir/access.log acfs;
	client_max_body_size 0;
	server {
		listen 127.0.0.1:$port${ca:+ ssl};
		${ca:+ssl_certificate $ca/server.pem; ssl_certificate_key $ca/server.key;}
		root $dir/data;
		location / {
			dav_methods PUT DELETE;
			create_full_put_path on;
			dav_access user:rw group:r all:r;
		}
	}
}
EOF
	nginx -p "$dir" -c "$dir/nginx.conf" </dev/null >/dev/null 2>>"$dir/error.log" &
	echo $! >"$WORK/nginx-$port.pid"
	if [ -n "$ca" ]; then
		wait_until "nginx (TLS) on $port answers" 30 "curl -s --cacert '$ca/ca.pem' -o /dev/null 'https://localhost:$port/'"
	else
		wait_until "nginx on $port answers" 30 "curl -s -o /dev/null 'http://127.0.0.1:$port/'"
	fi
}
nginx_pid() { cat "$WORK/nginx-$1.pid"; }

# make_ca DIR: a private CA (DIR/ca.pem) and a certificate it signed for
# localhost and 127.0.0.1 (DIR/server.pem, DIR/server.key), with openssl.
make_ca() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=aria test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
			-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/san.ext" &&
		openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -days 2 -extfile "$d/san.ext" -out "$d/server.pem" 2>/dev/null
}

# start_s3 PORT: s3rver (a real S3 implementation, from npm: see
# tests/remote/package.json; packaging/install-deps.sh installs it) with
# the bucket "cache" in $WORK/s3-PORT (emptied first), behind a check that
# refuses what real S3 refuses (tests/remote/s3-server.js). Each request
# is logged to $WORK/s3-PORT.log.
S3_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../remote" && pwd)
start_s3() {
	local port=$1
	[ -d "$S3_DIR/node_modules/s3rver" ] || {
		echo "s3rver is not installed: run packaging/install-deps.sh (npm ci in tests/remote)" >&2
		return 1
	}
	rm -rf "$WORK/s3-$port"
	mkdir -p "$WORK/s3-$port"
	node "$S3_DIR/s3-server.js" "$port" "$WORK/s3-$port" cache \
		</dev/null >"$WORK/s3-$port.ready" 2>>"$WORK/s3-$port.log" &
	echo $! >"$WORK/s3-$port.pid"
	wait_until "s3rver on $port is ready" 60 "grep -q ready '$WORK/s3-$port.ready'"
}
s3_pid() { cat "$WORK/s3-$1.pid"; }
# s3_put PORT OBJECT FILE: a signed PUT, as an S3 client makes it.
s3_put() {
	curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user S3RVER:S3RVER \
		-H "x-amz-content-sha256: $(sha256sum <"$3" | cut -c1-64)" \
		-T "$3" "http://127.0.0.1:$1/cache/$2" >/dev/null
}

# Daemons of their own: daemon NAME [OPTIONS]: mounts $WORK/NAME (store
# $WORK/NAME.store) in the background.
declare -A DAEMON_PIDS=()
daemon_up() {
	local name=$1
	shift
	mkdir -p "$WORK/$name" 2>/dev/null # (a stale mount: the daemon clears it)
	"$ACFS_DAEMON" --store "$WORK/$name.store" "$@" "$WORK/$name" 2>>"$WORK/daemon.err" || return 1
	DAEMON_PIDS[$name]=$(awk '{print $2}' "$WORK/$name.store/daemon.lock")
}
daemon_down() {
	local name=$1 pid=${DAEMON_PIDS[$1]}
	fusermount3 -u "$WORK/$name" || return 1
	wait_until "daemon $name exits" 60 "! kill -0 $pid 2>/dev/null"
}
# kill_tree PID: kills a server and its children (nginx's workers outlive
# a killed master, and a master whose workers die first starts new ones:
# so it is stopped first).
kill_tree() {
	kill -STOP "$1" 2>/dev/null || return 0
	pkill -9 -P "$1" 2>/dev/null
	kill -9 "$1" 2>/dev/null
	return 0
}
remote_cleanup() {
	local n pid
	for n in "${!DAEMON_PIDS[@]}"; do
		fusermount3 -u -z "$WORK/$n" 2>/dev/null || true
		kill -9 "${DAEMON_PIDS[$n]}" 2>/dev/null || true
	done
	for pid in "$WORK"/redis-*.pid "$WORK"/nginx-*.pid "$WORK"/s3-*.pid; do
		[ -f "$pid" ] || continue
		kill_tree "$(cat "$pid")"
	done
	cleanup
}
trap remote_cleanup EXIT

tool() { # tool NAME ARGS...: aria-cache against daemon NAME
	local name=$1
	shift
	"$ACFS_TOOL" --store "$WORK/$name.store" "$@"
}
# rstat NAME FIELD [TIER]: a number from stats --json of daemon NAME: a
# top-level field, "remote.FIELD", or FIELD of remote tier TIER (0-based).
rstat() {
	tool "$1" stats --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
f = sys.argv[1]
if len(sys.argv) > 2:
    print(d['remote']['tiers'][int(sys.argv[2])][f])
elif f.startswith('remote.'):
    print(d['remote'][f[7:]])
else:
    print(d[f])" "$2" ${3:+"$3"}
}

# store_all MNT DIR: stores every DIR/<key>.bc as the compiler does.
store_all() {
	local mnt=$1 dir=$2 f key
	mkdir -p "$mnt/monomorph" "$mnt/tmp" || return 1
	for f in "$dir"/*.bc; do
		key=$(basename "$f" .bc)
		cp "$f" "$mnt/tmp/${key}_$$.tmp" || return 1
		mkdir -p "$mnt/monomorph/${key:0:2}" || return 1
		mv "$mnt/tmp/${key}_$$.tmp" "$mnt/monomorph/${key:0:2}/${key:2}.bc" || return 1
	done
}
# same_all MNT DIR: every DIR/<key>.bc reads back identical from MNT.
same_all() {
	local mnt=$1 dir=$2 f key bad=0
	for f in "$dir"/*.bc; do
		key=$(basename "$f" .bc)
		cmp -s "$f" "$mnt/monomorph/${key:0:2}/${key:2}.bc" || { echo "differs or missing: $key"; bad=1; }
	done
	return $bad
}
# none_of MNT DIR: no DIR/<key>.bc exists in MNT.
none_of() {
	local mnt=$1 dir=$2 f key
	for f in "$dir"/*.bc; do
		key=$(basename "$f" .bc)
		[ ! -e "$mnt/monomorph/${key:0:2}/${key:2}.bc" ] || { echo "present: $key"; return 1; }
	done
}
# ac_path KEY: the remote path of KEY's action result.
ac_path() {
	printf 'ac/%s' "$(printf 'aria-cachefs/1\0%s.bc' "$1" | sha256sum | cut -c1-64)"
}
# action_result KEY FILE [SIZE]: the ActionResult protobuf naming FILE's
# bytes (and SIZE instead of their size, if given: a lying result).
action_result() {
	python3 - "$1" "$2" ${3:+"$3"} <<'PY'
import hashlib, sys
key, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
size = int(sys.argv[3]) if len(sys.argv) > 3 else len(data)
def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7f) | 0x80]); v >>= 7
    return out + bytes([v])
def field(n, b): return bytes([(n << 3) | 2]) + varint(len(b)) + b
digest = field(1, hashlib.sha256(data).hexdigest().encode()) + bytes([0x10]) + varint(size)
of = field(1, (key + ".bc").encode()) + field(2, digest)
sys.stdout.buffer.write(field(2, of))
PY
}
