#!/bin/bash
# Remote tiers against a real server on 127.0.0.1: remote.sh redis (a
# redis-server), remote.sh http (nginx with WebDAV PUT) or remote.sh s3
# (s3rver, checking SigV4 as S3 does; every daemon signs). Two daemons with
# separate stores share entries through it; misses are remembered; a
# poisoned object is refused; a slow then dead remote leaves every mount
# answering from local data with no hung call; the upload queue survives
# kill -9 of its daemon and drains when the remote is back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/remote-lib.sh"

BACKEND=${1:-redis}
PORT=$(free_port)
case $BACKEND in
redis)
	URL=redis://127.0.0.1:$PORT/0
	start_remote() { start_redis "$PORT"; }
	remote_pids() { redis_pid "$PORT"; }
	remote_put() { redis-cli -p "$PORT" -x SET "aria-cachefs/$1" <"$2" >/dev/null; }
	;;
http)
	URL=http://127.0.0.1:$PORT/cache
	start_remote() { start_nginx "$PORT"; }
	remote_pids() { local m; m=$(nginx_pid "$PORT"); echo "$m"; pgrep -P "$m"; }
	remote_put() { curl -sf -T "$2" "$URL/$1"; }
	;;
s3)
	URL=http://127.0.0.1:$PORT/cache
	start_remote() { start_s3 "$PORT"; }
	remote_pids() { s3_pid "$PORT"; }
	remote_put() { s3_put "$PORT" "$1" "$2"; }
	;;
*)
	echo "usage: remote.sh redis|http|s3" >&2
	exit 2
	;;
esac

corpora() {
	make_corpus "$WORK/c1" 40 r1 && make_corpus "$WORK/c2" 30 r2 &&
		make_corpus "$WORK/c3" 20 r3 && make_corpus "$WORK/other" 1 r4
}
ok "make corpora of real bitcode (40 shared, 20 and 30 for later)" corpora
ok "start $BACKEND on 127.0.0.1:$PORT" start_remote

# A: a CI machine (read-write; for HTTP, with AWS credentials: SigV4).
# B: a developer (read-only), with the default wait of 100 ms: start-up
# work (LLVM helpers, connections) is done at mount, so every first probe
# is answered within it. Under a sanitizer every step is several times
# slower than the wait is meant for: there, a generous one.
# For S3 every daemon signs (the bucket is private); s3rver's account.
if [ "$BACKEND" = s3 ]; then
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
else
	export AWS_ACCESS_KEY_ID=AKIDACFSTEST AWS_SECRET_ACCESS_KEY=acfs-test-secret
fi
ok "mount A (read-write)" daemon_up a --remote "$URL"
ok "A asked the remote once at mount: it answers" grep -q "remote ${URL%/cache}.* answers (" "$WORK/daemon.err"
[ "$BACKEND" = s3 ] || unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
B_WAIT=()
ldd "$ACFS_DAEMON" | grep -q -e libasan -e libtsan && B_WAIT=(--remote-wait 5s)
ok "mount B (read-only)" daemon_up b --remote="$URL" --remote-mode read-only "${B_WAIT[@]}"
ok "A stores 40 entries as the compiler does" store_all "$WORK/a" "$WORK/c1"
ok "aria-cache sync: every upload done" tool a sync --timeout 60s
ok "A uploaded 40, queue empty" test "$(rstat a uploads 0) $(rstat a queue_depth 0) $(rstat a upload_queue)" = "40 0 0"
ok "B reads all 40, byte for byte, from the remote" same_all "$WORK/b" "$WORK/c1"
ok "B counts 40 remote hits, nothing rejected" test "$(rstat b hits 0) $(rstat b rejected 0)" = "40 0"
ok "B: no first probe stopped waiting (a fresh mount)" test "$(rstat b remote.wait_expired)" = 0
if [ "$BACKEND" = redis ]; then
	# One round trip per remote hit: the result and its bytes by one
	# EVAL (a script run in Redis), not GET then GET.
	evals_at_least() {
		local n
		n=$(redis-cli -p "$PORT" INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_eval:calls=\([0-9]*\),.*/\1/p')
		echo "EVAL calls: ${n:-0}"
		[ "${n:-0}" -ge "$1" ]
	}
	ok "B's 40 hits and 20 misses were one EVAL each (at least 60 EVALs)" evals_at_least 60
fi
ok "B's entries are local now: 40 entries in its store" test "$(rstat b entries)" = 40
ok "B (read-only) queued and uploaded nothing" test "$(rstat b uploads 0) $(rstat b upload_queue)" = "0 0"
ok "B: 20 keys nobody stored are absent" none_of "$WORK/b" "$WORK/c3"
ok "B counts 20 remote misses" test "$(rstat b misses 0)" = 20
sync
echo 2 >/proc/sys/vm/drop_caches
ok "asked again (kernel caches dropped): still absent" none_of "$WORK/b" "$WORK/c3"
ok "answered from remembered misses, not the remote" test "$(rstat b misses 0) $(rstat b remote.negative_hits)" = "20 20"
if [ "$BACKEND" = http ]; then
	ok "A's requests were signed with AWS SigV4" grep -q 'PUT /cache/cas/.* "AWS4-HMAC-SHA256 Credential=AKIDACFSTEST/' "$WORK/nginx-$PORT/access.log"
	ok "the layout is the Bazel HTTP cache's (ac/ and cas/)" sh -c "ls '$WORK/nginx-$PORT/data/cache/ac' | wc -l | grep -qx 40 && ls '$WORK/nginx-$PORT/data/cache/cas' | wc -l | grep -qx 40"
fi
if [ "$BACKEND" = s3 ]; then
	ok "S3 accepted every request: signature and payload hash checked" sh -c \
		"grep -q '^PUT /cache/cas/.* 200 signed' '$WORK/s3-$PORT.log' && ! grep -v ' signed' '$WORK/s3-$PORT.log'"
	ok "the bucket holds the Bazel layout: 40 action results, 40 blobs" sh -c \
		"ls '$WORK/s3-$PORT/cache/ac' | grep -c '_S3rver_object\$' | grep -qx 40 && ls '$WORK/s3-$PORT/cache/cas' | grep -c '_S3rver_object\$' | grep -qx 40"
fi

ok "mount W (write-only, fresh store; -o options)" daemon_up w -o "remote=$URL,remote_mode=write-only"
ok "W never fetches: the 40 uploaded keys are absent there" none_of "$WORK/w" "$WORK/c1"
ok "W asked the remote nothing" test "$(rstat w hits 0) $(rstat w misses 0)" = "0 0"
ok "unmount W" daemon_down w

# Prefetch: A (CI) publishes a manifest of what it has under a ref; a
# developer's fresh mount P fetches those entries before its build, which
# then answers every probe locally; a small budget stops it short of
# eviction.
ok "A publishes manifest ci-main-1 (40 keys)" sh -c \
	"'$ACFS_TOOL' --store '$WORK/a.store' publish ci-main-1 | grep -qx 'published ci-main-1: 40 keys'"
ok "mount P (fresh store, read-only, default wait)" daemon_up p --remote "$URL" --remote-mode read-only
prefetch_p() {
	tool p prefetch --json ci-main-1 >"$WORK/pf.json" || { cat "$WORK/pf.json"; return 1; }
	cat "$WORK/pf.json"
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert (r["keys"], r["fetched"], r["missing"], r["failed"], r["present"]) == (40, 40, 0, 0, 0), r
assert r["entries_per_second"] > 0 and not r["stopped_at_budget"], r' "$WORK/pf.json"
}
ok "aria-cache prefetch ci-main-1: 40 keys fetched, none missing or failed" prefetch_p
ok "P holds the 40 entries before any build" test "$(rstat p entries)" = 40
ok "P's build reads all 40, byte for byte" same_all "$WORK/p" "$WORK/c1"
ok "every probe answered locally: no remote fetch during the build" test "$(rstat p hits 0) $(rstat p misses 0)" = "0 0"
ok "prefetch again: all 40 already here" sh -c \
	"'$ACFS_TOOL' --store '$WORK/p.store' prefetch ci-main-1 | grep -q '40 keys: 0 fetched .* 40 already here, 0 missing'"
no_manifest() {
	local rc=0
	tool p prefetch no-such-ref >"$WORK/pf.out" 2>&1 || rc=$?
	cat "$WORK/pf.out"
	[ "$rc" -eq 1 ] && grep -q "no remote has a manifest for no-such-ref" "$WORK/pf.out"
}
ok "prefetch of a ref nobody published: exit 1, says so" no_manifest
# Manifests are read strictly and capped: one cut short or naming too
# many keys is refused whole (it was scanned for keys: half a manifest
# fetched half).
ok "prefetch --max-keys 39 of a 40-key manifest: refused whole, nothing fetched (exit 1)" sh -c \
	"'$ACFS_TOOL' --store '$WORK/p.store' prefetch --max-keys 39 ci-main-1 >'$WORK/pfk.out' 2>&1; [ \$? -eq 1 ] && grep -q 'names more than 39 keys' '$WORK/pfk.out'"
manifest_path() { # the .meta path under which REF's manifest is kept
	python3 -c '
import hashlib, sys
d = hashlib.sha256(b"aria-cachefs manifest\0" + sys.argv[1].encode()).hexdigest()
print("monomorph/%s/%s.meta" % (d[:2], d[2:16]))' "$1"
}
plant_cut() { # a manifest cut short, stored unchecked and uploaded
	local m
	m=$(manifest_path cut-1) &&
		sed 's/,[^,]*$//' "$WORK/ci-main-1.manifest" >"$WORK/m/tmp/cut" &&
		mv "$WORK/m/tmp/cut" "$WORK/m/$m" && tool m sync --timeout 60s
}
ok "mount M (--validate none: a .meta is not checked as JSON)" daemon_up m --remote "$URL" --validate none
ok "M keeps A's manifest of ci-main-1" sh -c \
	"cat '$WORK/m/$(manifest_path ci-main-1)' >'$WORK/ci-main-1.manifest' && python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))[\"keys\"]) == 40' '$WORK/ci-main-1.manifest'"
ok "M stores and uploads a copy cut short, as ref cut-1" plant_cut
ok "unmount M" daemon_down m
ok "prefetch cut-1: not a whole manifest, nothing fetched (exit 1)" sh -c \
	"'$ACFS_TOOL' --store '$WORK/p.store' prefetch cut-1 >'$WORK/pfc.out' 2>&1; [ \$? -eq 1 ] && grep -q 'not a whole manifest' '$WORK/pfc.out' || { cat '$WORK/pfc.out'; false; }"
ok "prefetch without a REF is a usage error (exit 2)" sh -c \
	"'$ACFS_TOOL' --store '$WORK/p.store' prefetch 2>/dev/null; [ \$? -eq 2 ]"
ok "unmount P" daemon_down p
ok "mount Q (fresh store, 1M budget)" daemon_up q --remote "$URL" --remote-mode read-only --max-size 1M
prefetch_budget() {
	tool q prefetch --json --jobs 2 ci-main-1 >"$WORK/pfq.json" || { cat "$WORK/pfq.json"; return 1; }
	cat "$WORK/pfq.json"
	python3 -c '
import json, os, sys
r = json.load(open(sys.argv[1]))
stored, corpus = int(sys.argv[2]), sys.argv[3]
largest = max(os.path.getsize(os.path.join(corpus, f)) for f in os.listdir(corpus))
cap = 1024 * 1024 * 90 // 100
print("# fetched %d, %d raw bytes, %d stored, stopped %s" % (r["fetched"], r["fetched_bytes"], stored, r["stopped_at_budget"]))
assert stored <= cap, "past 90% of the budget"
# Stored (compressed) bytes are counted, not raw ones: it fills the
# budget up to the last entry that still fits.
assert r["fetched"] == 40 or (r["stopped_at_budget"] and stored + largest > cap), r
assert r["fetched_bytes"] > stored, "raw bytes are more than stored ones"' "$WORK/pfq.json" "$(rstat q stored_bytes)" "$WORK/c1" &&
		[ "$(rstat q evictions)" = 0 ]
}
ok "prefetch into a 1M budget: up to 90% of it in stored bytes, evicting nothing" prefetch_budget
ok "unmount Q" daemon_down q

if [ "$BACKEND" = redis ]; then
	# Many read-through hits in a row: each fetched entry's commit drops
	# the fresh dentry, so the kernel sends RELEASE and FORGET right after
	# the READ replies (a READ's close racing them freed an inode or its
	# bytes twice: found by tests/bench/prefetch.sh).
	many_keys() { # many_keys MNT store|read: 1500 keys, one module's bytes
		python3 - "$1" "$2" "$WORK/c1" <<'PY'
import os, sys
mnt, mode, corpus = sys.argv[1:]
data = open(os.path.join(corpus, sorted(os.listdir(corpus))[0]), 'rb').read()
for i in range(1500):
    path = os.path.join(mnt, 'monomorph', '3c', '%014x.bc' % (0x1000 + i))
    if mode == 'store':
        tmp = os.path.join(mnt, 'tmp', 'm')
        open(tmp, 'wb').write(data)
        os.rename(tmp, path)
    else:
        with open(path, 'rb') as f:
            assert f.read() == data, path
PY
	}
	ok "A stores 1500 more keys (one module's bytes)" many_keys "$WORK/a" store
	ok "aria-cache sync: uploaded" tool a sync --timeout 120s
	ok "mount R (fresh store, read-only)" daemon_up r --remote "$URL" --remote-mode read-only --remote-wait 5s
	ok "R reads the 1500 through the remote, one after another" many_keys "$WORK/r" read
	r_alive() { kill -0 "${DAEMON_PIDS[r]}" && [ "$(rstat r hits 0)" = 1500 ]; }
	ok "R's daemon is alive and counts 1500 remote hits" r_alive
	ok "unmount R" daemon_down r
fi

# Poison: (1) the bytes of key 1 replaced by another module; (2) an action
# result for a new key naming bytes that are not bitcode (digest right).
k1=$(basename "$(ls "$WORK"/c1/*.bc | head -1)" .bc)
k2=$(basename "$(ls "$WORK"/c3/*.bc | head -1)" .bc)
k3=$(basename "$(ls "$WORK"/c1/*.bc | tail -1)" .bc)
ok "poison key 1's bytes on the remote" remote_put "cas/$(sha256sum <"$WORK/c1/$k1.bc" | cut -c1-64)" "$WORK"/other/*.bc
head -c 5000 /dev/urandom >"$WORK/garbage"
action_result "$k2" "$WORK/garbage" >"$WORK/garbage.ac"
poison2() {
	remote_put "cas/$(sha256sum <"$WORK/garbage" | cut -c1-64)" "$WORK/garbage" &&
		remote_put "$(ac_path "$k2")" "$WORK/garbage.ac"
}
ok "poison key 2: garbage with a matching digest" poison2
k4=$(basename "$(ls "$WORK"/c3/*.bc | sed -n 2p)" .bc)
action_result "$k4" "$WORK/garbage" $((1 << 40)) >"$WORK/huge.ac"
ok "poison key 3: a result announcing 1 TiB" remote_put "$(ac_path "$k4")" "$WORK/huge.ac"
ok "mount C (fresh store)" daemon_up c --remote "$URL" --remote-wait 5s
ok "C refuses key 1: bytes do not match their digest" test ! -e "$WORK/c/monomorph/${k1:0:2}/${k1:2}.bc"
ok "C refuses key 2: not valid bitcode" test ! -e "$WORK/c/monomorph/${k2:0:2}/${k2:2}.bc"
ok "C reads an unpoisoned key" cmp "$WORK/c1/$k3.bc" "$WORK/c/monomorph/${k3:0:2}/${k3:2}.bc"
ok "C refuses key 3 before fetching its bytes: over --max-entry-size" test ! -e "$WORK/c/monomorph/${k4:0:2}/${k4:2}.bc"
ok "C counts 3 rejected, 1 hit" test "$(rstat c rejected 0) $(rstat c hits 0)" = "3 1"
# Down: key 3's bytes, the poisons of keys 1 and 2, four action results.
most=$(( $(stat -c %s "$WORK/c1/$k3.bc") + $(cat "$WORK"/other/*.bc | wc -c) + 5000 + 4 * 128 ))
down_at_most() { local d; d=$(rstat c bytes_down 0); echo "bytes down: $d"; [ "$d" -le "$1" ]; }
ok "nothing of the 1 TiB came down (at most $most bytes)" down_at_most "$most"
ok "the log names the keys and why" sh -c "grep -q 'refused monomorph/${k1:0:2}/${k1:2}.bc from remote .*digest' '$WORK/daemon.err' && grep -q 'refused commit of monomorph/${k2:0:2}/${k2:2}.bc (5000 bytes from remote ' '$WORK/daemon.err' && grep -q 'refused monomorph/${k4:0:2}/${k4:2}.bc from remote .*1099511627776 bytes, over the largest entry' '$WORK/daemon.err'"
ok "unmount C" daemon_down c

# A slow remote (stopped: connections accepted, nothing answered), then a
# dead one: lookups stay bounded, stores go on, breakers open.
ok "mount D (default 100 ms wait)" daemon_up d --remote "$URL"
ok "stop the remote (SIGSTOP)" kill -STOP $(remote_pids)
probe_bounded() { # MNT DIR: every probe of DIR's keys misses within 1 s
	python3 - "$1" "$2" <<'PY'
import os, sys, time
mnt, d = sys.argv[1], sys.argv[2]
worst = 0.0
for f in sorted(os.listdir(d)):
    k = f[:-3]
    t = time.monotonic()
    e = os.path.exists(f"{mnt}/monomorph/{k[:2]}/{k[2:]}.bc")
    worst = max(worst, time.monotonic() - t)
    if e:
        sys.exit(f"{k} exists")
print(f"slowest probe {worst * 1000:.0f} ms")
sys.exit(worst >= 1.0)
PY
}
ok "D: probes of 20 keys answer within 1 s each while the remote hangs" probe_bounded "$WORK/d" "$WORK/c3"
ok "A stores 20 entries while the remote hangs" store_all "$WORK/a" "$WORK/c3"
ok "D unmounts while the remote hangs" daemon_down d
ok "kill the remote (SIGKILL)" kill -9 $(remote_pids)
ok "A still serves its entries" same_all "$WORK/a" "$WORK/c1"
ok "B still serves its entries" same_all "$WORK/b" "$WORK/c1"
ok "B: probes answer within 1 s each with the remote dead" probe_bounded "$WORK/b" "$WORK/c2"
ok "A's breaker opens" wait_until "A's breaker opens" 60 "[ \$(rstat a breaker_trips 0) -ge 1 ]"
ok "A: the failed uploads are counted" sh -c "[ \$(( $(rstat a upload_errors 0) + $(rstat a timeouts 0) )) -ge 1 ]"

# The queue survives kill -9 of its daemon.
ok "A stores 30 more with the remote dead" store_all "$WORK/a" "$WORK/c2"
ok "A's queue holds 50" test "$(rstat a queue_depth 0)" = 50
ok "kill -9 A" kill -9 "${DAEMON_PIDS[a]}"
ok "restart A on its stale mountpoint" daemon_up a --remote "$URL"
ok "the queue is still 50" test "$(rstat a upload_queue) $(rstat a queue_depth 0)" = "50 50"
ok "restart the remote (empty)" start_remote
ok "aria-cache sync: the queue drains" tool a sync --timeout 60s
ok "mount E (fresh store)" daemon_up e --remote "$URL" --remote-wait 5s
ok "E reads the 30 entries queued last from the remote" same_all "$WORK/e" "$WORK/c2"
ok "E reads the 20 stored while the remote hung" same_all "$WORK/e" "$WORK/c3"
ok "unmount A, B, E" sh -c "fusermount3 -u '$WORK/a' && fusermount3 -u '$WORK/b' && fusermount3 -u '$WORK/e'"
for n in a b e; do
	wait_until "daemon $n exits" 60 "! kill -0 ${DAEMON_PIDS[$n]} 2>/dev/null"
done
ok "A's store invariants hold" "$ACFS_CHECK" "$WORK/a.store/db"
ok "B's store invariants hold" "$ACFS_CHECK" "$WORK/b.store/db"

# sync_pending NAME REASON: aria-cache sync of daemon NAME gives up on 3
# pending uploads (exit 1), naming REASON; its output in sync-NAME.out.
sync_pending() {
	local rc=0
	tool "$1" sync --timeout 2s >"$WORK/sync-$1.out" 2>&1 || rc=$?
	cat "$WORK/sync-$1.out"
	[ "$rc" -eq 1 ] && grep -q "^3 uploads still pending" "$WORK/sync-$1.out" &&
		grep -q "$2" "$WORK/sync-$1.out"
}

# S3 refusing: aria-cache sync never says every upload is done unless
# every upload reached the bucket.
if [ "$BACKEND" = s3 ]; then
	ok "make 3 more entries" make_corpus "$WORK/c5" 3 r5
	# The AWS credential chain: no keys in the environment, a profile
	# of the shared credentials file; then a profile whose keys come
	# from a credential_process (with a session token s3rver ignores).
	cat >"$WORK/aws-credentials" <<'INI'
[default]
aws_access_key_id = WRONG
aws_secret_access_key = WRONG

[ci]
aws_access_key_id = S3RVER
aws_secret_access_key = S3RVER
INI
	printf '{"Version": 1, "AccessKeyId": "S3RVER", "SecretAccessKey": "S3RVER", "SessionToken": "tok"}\n' >"$WORK/aws-process.json"
	cat >"$WORK/aws-config" <<INI
[profile proc]
credential_process = cat $WORK/aws-process.json
region = us-east-1

[profile broken]
credential_process = sh -c 'exit 3'
INI
	with_profile() { # with_profile PROFILE CMD...: no AWS keys in the environment
		env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE="$1" \
			AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials" AWS_CONFIG_FILE="$WORK/aws-config" "${@:2}"
	}
	for prof in ci proc; do
		n0=$(grep -c "remote $URL answers (" "$WORK/daemon.err")
		ok "mount K ($prof): keys from the profile $prof, none in the environment" \
			with_profile $prof bash -c "$(declare -f daemon_up); declare -A DAEMON_PIDS; WORK='$WORK' ACFS_DAEMON='$ACFS_DAEMON'; daemon_up k-$prof --remote '$URL'"
		ok "K ($prof): it answers at mount (signed)" test "$(grep -c "remote $URL answers (" "$WORK/daemon.err")" -gt "$n0"
		ok "K ($prof) stores 3 entries" store_all "$WORK/k-$prof" "$WORK/c5"
		ok "K ($prof): sync: every upload done" tool k-$prof sync --timeout 60s
		ok "unmount K ($prof)" sh -c "fusermount3 -u '$WORK/k-$prof'"
	done
	ok "a failing credential_process is said at mount (and no secret)" bash -c \
		"$(declare -f with_profile); WORK='$WORK'; with_profile broken '$ACFS_DAEMON' --store '$WORK/kb.store' --remote '$URL' '$WORK/kb' 2>>'$WORK/daemon.err'; grep -q 'credential_process of profile broken failed (exit status 3)' '$WORK/daemon.err' && fusermount3 -u '$WORK/kb'"
	# A wrong secret: every request is refused (403). A failure, not a
	# verdict on the entries: the breaker opens, the uploads stay queued.
	wrong_secret() {
		AWS_SECRET_ACCESS_KEY=not-the-secret daemon_up f --remote "$URL" &&
			grep -q "remote $URL does not answer as it should: GET ac/0*: HTTP 403" "$WORK/daemon.err"
	}
	ok "mount F with a wrong secret: the refusal is printed at mount" wrong_secret
	ok "F stores 3 entries" store_all "$WORK/f" "$WORK/c5"
	ok "F: sync exits 1: 3 pending, naming S3's refusal" sync_pending f "last error: .*HTTP 403"
	ok "F: the 3 uploads stay queued" test "$(rstat f queue_depth 0)" = 3
	ok "F: the breaker opens" wait_until "F's breaker opens" 60 "[ \$(rstat f breaker_trips 0) -ge 1 ]"
	ok "F: stats show the last error and when" sh -c \
		"tool() { '$ACFS_TOOL' --store '$WORK/f.store' \"\$@\"; }; tool stats | grep -q 'last error .*HTTP 403.* (20'"
	ok "unmount F" daemon_down f
	# A bucket that does not exist: each PUT is refused for good (404
	# NoSuchBucket) and dropped; sync says so and exits 1.
	ok "mount G on a bucket that does not exist" daemon_up g --remote "http://127.0.0.1:$PORT/nosuchbucket"
	ok "G: the missing bucket is said at mount (not taken for a miss)" grep -q \
		"remote http://127.0.0.1:$PORT/nosuchbucket does not answer as it should: the bucket of http://127.0.0.1:$PORT/nosuchbucket does not exist (S3 NoSuchBucket)" "$WORK/daemon.err"
	ok "G stores 3 entries" store_all "$WORK/g" "$WORK/c5"
	sync_dropped() {
		local rc=0
		tool g sync --timeout 60s >"$WORK/sync-g.out" 2>&1 || rc=$?
		cat "$WORK/sync-g.out"
		[ "$rc" -eq 1 ] && grep -q "^3 versions are not on a remote" "$WORK/sync-g.out" &&
			grep -q "HTTP 404 NoSuchBucket" "$WORK/sync-g.out" &&
			! grep -q "every upload is done" "$WORK/sync-g.out"
	}
	ok "G: sync exits 1: 3 dropped, naming S3's refusal" sync_dropped
	ok "G: a second sync still reports the 3 (tried again, refused again)" sync_dropped
	ok "G: stats show 3 not uploaded" test "$(rstat g not_uploaded 0)" = 3
	publish_none() {
		tool g publish --json ci-g >"$WORK/pub-g.json" 2>&1
		cat "$WORK/pub-g.json"
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["keys"] == 0, d' "$WORK/pub-g.json"
	}
	ok "G: a publish names none of the keys the remote lacks" publish_none
	ok "G: sync --forget-dropped" sh -c "tool() { '$ACFS_TOOL' --store '$WORK/g.store' \"\$@\"; }; tool sync --forget-dropped | grep -q 'forgot 3 dropped uploads'"
	sync_json() {
		tool g sync --json --timeout 10s >"$WORK/sync-g.json"
		cat "$WORK/sync-g.json"
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["done"] and d["dropped"] == 0 and d["pending"] == 0, d' "$WORK/sync-g.json"
	}
	ok "G: after --forget-dropped, sync exits 0 (--json)" sync_json
	ok "unmount G" daemon_down g
	# A key prefix with '=', '+', a space and UTF-8: each path segment is
	# sent URI-encoded and signed that way, as AWS clients do; the test
	# server checks the signature over the path as S3 decodes and
	# re-encodes it.
	ok "mount K with a prefix holding = + space and UTF-8" \
		daemon_up k --remote "http://127.0.0.1:$PORT/cache/ci=main+x%20y/caf%C3%A9"
	ok "K stores 3 entries" store_all "$WORK/k" "$WORK/c5"
	ok "K: sync exits 0 (every request signed as S3 checks it)" tool k sync --timeout 60s
	ok "the objects are under the prefix in the bucket" sh -c \
		"find '$WORK/s3-$PORT' -path '*ci=main+x y/caf\xc3\xa9*' 2>/dev/null | grep -q . || find '$WORK/s3-$PORT' | grep -q 'ci=main+x y'"
	ok "unmount K" daemon_down k
	# A full queue (--remote-queue-max 2) while the remote is not there
	# yet: the 28 commits past it are recorded as not uploaded; sync says
	# so, and once the remote answers, sync uploads them all.
	P3=$(free_port)
	ok "mount Q with --remote-queue-max 2, its remote not started" \
		daemon_up q --remote "http://127.0.0.1:$P3/cache" --remote-queue-max 2
	ok "Q stores 30 entries" store_all "$WORK/q" "$WORK/c2"
	sync_q_short() {
		local rc=0
		tool q sync --timeout 2s >"$WORK/sync-q.out" 2>&1 || rc=$?
		cat "$WORK/sync-q.out"
		[ "$rc" -eq 1 ] && ! grep -q "every upload is done" "$WORK/sync-q.out"
	}
	ok "Q: sync exits 1 while the remote is absent" sync_q_short
	ok "Q: stats show what the full queue kept from the remote" sh -c \
		"[ \$(tool() { '$ACFS_TOOL' --store '$WORK/q.store' \"\$@\"; }; tool stats --json | python3 -c 'import json,sys; t=json.load(sys.stdin)[\"remote\"][\"tiers\"][0]; print(t[\"not_uploaded\"] + t[\"queue_depth\"])') -eq 30 ]"
	ok "start the remote of Q" start_s3 "$P3"
	ok "Q: sync uploads every one (exit 0)" tool q sync --timeout 120s
	ok "Q: nothing left not uploaded" test "$(rstat q not_uploaded 0)" = 0
	ok "unmount Q" daemon_down q
fi

# Redis with a password, given a wrong one: a failure (the breaker opens,
# uploads stay queued), shown in stats and by sync; never a refusal of
# the entries.
if [ "$BACKEND" = redis ]; then
	P2=$(free_port)
	ok "make 3 more entries" make_corpus "$WORK/c6" 3 r6
	ok "start a second redis-server, with a password" sh -c \
		"$(declare -f start_redis wait_until); WORK='$WORK'; start_redis $P2 && redis-cli -p $P2 CONFIG SET requirepass right-password | grep -q OK"
	ok "mount H with a wrong password" daemon_up h --remote "redis://:wrong-password@127.0.0.1:$P2/0"
	ok "H: the refused AUTH is printed at mount" grep -q "remote redis://127.0.0.1:$P2/0 does not answer as it should: AUTH: WRONGPASS" "$WORK/daemon.err"
	ok "H stores 3 entries" store_all "$WORK/h" "$WORK/c6"
	ok "H: the breaker opens" wait_until "H's breaker opens" 60 "[ \$(rstat h breaker_trips 0) -ge 1 ]"
	ok "H: sync exits 1: 3 pending, naming the refused AUTH" sync_pending h "last error: AUTH: .*pass"
	ok "H: nothing dropped, the 3 uploads stay queued" test "$(rstat h upload_dropped 0) $(rstat h queue_depth 0)" = "0 3"
	ok "H: the password is in no output" sh -c "! grep -q wrong-password '$WORK/sync-h.out' && ! '$ACFS_TOOL' --store '$WORK/h.store' stats | grep -q wrong-password"
	ok "unmount H" daemon_down h
	# A Redis ACL user over IPv6, its password from a file: AUTH user
	# password; the secret on no command line and in no output.
	acl_user() {
		redis-cli -p "$P2" --no-auth-warning -a right-password CONFIG SET bind "127.0.0.1 ::1" | grep -q OK &&
			redis-cli -p "$P2" --no-auth-warning -a right-password ACL SETUSER ci on '>ci-s3cret' '~*' '+@all' | grep -q OK &&
			printf 'ci-s3cret\n' >"$WORK/ci-password" && chmod 600 "$WORK/ci-password"
	}
	ok "an ACL user ci on the second redis, which listens on ::1 too" acl_user
	ok "mount I: redis://ci@[::1]:PORT/0, password from ARIA_CACHE_REMOTE_PASSWORD_FILE" \
		env ARIA_CACHE_REMOTE_PASSWORD_FILE="$WORK/ci-password" bash -c "$(declare -f daemon_up); declare -A DAEMON_PIDS; WORK='$WORK' ACFS_DAEMON='$ACFS_DAEMON'; daemon_up i --remote 'redis://ci@[::1]:$P2/0'"
	ok "I stores 3 entries" store_all "$WORK/i" "$WORK/c6"
	ok "I: sync: every upload done" tool i sync --timeout 60s
	ok "I: uploaded 3 as user ci" test "$(rstat i uploads 0) $(redis-cli -p "$P2" --no-auth-warning --user ci --pass ci-s3cret --scan --pattern 'aria-cachefs/ac/*' | wc -l)" = "3 3"
	ok "I: stats name the remote without its password" sh -c "'$ACFS_TOOL' --store '$WORK/i.store' stats | grep -q 'redis://ci@\[::1\]:$P2/0'"
	ok "I: the password is not on the daemon's command line" sh -c \
		"pid=\$(awk '{print \$2}' '$WORK/i.store/daemon.lock'); ! tr '\\0' ' ' </proc/\$pid/cmdline | grep -q ci-s3cret && ! grep -q ci-s3cret '$WORK/daemon.err'"
	ok "aria-cache config shows a password given in a URL as ***" sh -c \
		"ARIA_CACHE_REMOTE='redis://ci:ci-s3cret@[::1]:$P2/0' '$ACFS_TOOL' config | grep -q 'remote *= redis://ci:\*\*\*@\[::1\]:$P2/0' && ! ARIA_CACHE_REMOTE='redis://ci:ci-s3cret@[::1]:$P2/0' '$ACFS_TOOL' config --json | grep -q ci-s3cret"
	ok "a bad URL's error does not echo its password" sh -c \
		"! '$ACFS_DAEMON' --store '$WORK/x.store' --remote 'redis://ci:ci-s3cret@h:0' '$WORK/x' 2>'$WORK/bad-url.err'; cat '$WORK/bad-url.err'; grep -q 'redis://ci:\*\*\*@h:0' '$WORK/bad-url.err' && ! grep -q ci-s3cret '$WORK/bad-url.err'"
	ok "unmount I" sh -c "fusermount3 -u '$WORK/i' && pid=\$(awk '{print \$2}' '$WORK/i.store/daemon.lock') && { $(declare -f wait_until); wait_until 'I exits' 60 \"! kill -0 \$pid 2>/dev/null\"; }"
	# A namespace in a shared Redis: a key prefix after the database,
	# and an expiry for what it stores.
	ok "mount J: redis://ci:...@127.0.0.1:PORT/0/team-a/ci?ttl=1h" \
		daemon_up j --remote "redis://ci:ci-s3cret@127.0.0.1:$P2/0/team-a/ci?ttl=1h"
	ok "J stores 3 entries" store_all "$WORK/j" "$WORK/c6"
	ok "J: sync: every upload done" tool j sync --timeout 60s
	rcli() { redis-cli -p "$P2" --no-auth-warning --user ci --pass ci-s3cret "$@"; }
	ok "J: its 3 entries are under team-a/ci/ only" test \
		"$(rcli --scan --pattern 'team-a/ci/ac/*' | wc -l)" = 3
	ttl_set() {
		local k t
		k=$(rcli --scan --pattern 'team-a/ci/ac/*' | head -n 1)
		t=$(rcli TTL "$k")
		echo "# TTL of $k: $t"
		[ "$t" -gt 0 ] && [ "$t" -le 3600 ]
	}
	ok "J: they expire within the hour (SET EX)" ttl_set
	ok "J: stats show the prefix and the expiry, not the password" sh -c \
		"'$ACFS_TOOL' --store '$WORK/j.store' stats | grep -q 'redis://ci@127.0.0.1:$P2/0/team-a/ci?ttl=3600s' && ! '$ACFS_TOOL' --store '$WORK/j.store' stats | grep -q ci-s3cret"
	ok "unmount J" daemon_down j
	kill -9 "$(redis_pid "$P2")" 2>/dev/null
fi

# HTTPS with a company CA: --remote-ca trusts it; without it the remote's
# certificate is refused, and the reason printed at mount.
if [ "$BACKEND" = http ]; then
	P3=$(free_port)
	TLS_URL=https://localhost:$P3/cache
	ok "make a private CA and a server certificate (openssl)" make_ca "$WORK/ca"
	ok "start nginx serving HTTPS on $P3 with it" start_nginx "$P3" "$WORK/ca"
	ok "make 3 more entries" make_corpus "$WORK/c7" 3 r7
	untrusted() {
		daemon_up j --remote "$TLS_URL" || return 1
		grep -q "remote $TLS_URL does not answer as it should: .*SSL" "$WORK/daemon.err"
	}
	ok "mount J without the CA: the certificate is refused, printed at mount" untrusted
	ok "unmount J" daemon_down j
	ok "--remote-ca that is no certificate is refused at start (exit 2)" sh -c \
		"'$ACFS_DAEMON' --store '$WORK/x.store' --remote '$TLS_URL' --remote-ca /etc/hostname '$WORK/x' 2>'$WORK/ca.err'; [ \$? -eq 2 ] && grep -q 'no PEM certificate' '$WORK/ca.err'"
	ok "mount K with --remote-ca" daemon_up k --remote "$TLS_URL" --remote-ca "$WORK/ca/ca.pem"
	ok "K stores 3 entries" store_all "$WORK/k" "$WORK/c7"
	ok "K: sync: every upload done, over HTTPS" tool k sync --timeout 60s
	ok "mount L (read-only, -o remote_ca=)" daemon_up l -o "remote=$TLS_URL,remote_ca=$WORK/ca/ca.pem,remote_mode=read-only" --remote-wait 5s
	ok "L reads the 3 entries from the HTTPS remote" same_all "$WORK/l" "$WORK/c7"
	ok "unmount K, L" sh -c "fusermount3 -u '$WORK/k' && fusermount3 -u '$WORK/l'"
	for n in k l; do
		wait_until "daemon $n exits" 60 "! kill -0 ${DAEMON_PIDS[$n]} 2>/dev/null"
	done
	kill_tree "$(nginx_pid "$P3")"
fi
finish
