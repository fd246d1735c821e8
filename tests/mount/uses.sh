#!/bin/bash
# Exact LRU and kernel-cached misses, in both hit modes, across two mounts
# of one store (one daemon):
# - the eviction order is the order of the opens, whichever mount opened,
#   whatever stat, ls -l, existence probes and imports happened between
#   them (only an open is a use);
# - a key probed absent in one mount, its negative dentry cached by the
#   kernel, is never answered absent there once another mount's rename of
#   it returned (a tight loop of probes while the other mount stores);
# - with kernel-served hits, opens lost to an overflow of the kernel's
#   event queue never make the wrong entry go first.
. "$(dirname "$0")/lib.sh"

A=$MNT
B=$WORK/b
mkdir -p "$B"
EXTRA_MOUNTS="$B"
N=${ACFS_USES_KEYS:-40}

join() {
	"$ACFS_DAEMON" --store "$STORE" "$B" 2>>"$WORK/daemon.err" &&
		mountpoint -q "$B"
}
store_keys() { # store_keys PREFIX: N entries through A by tmp + rename
	local i k
	for i in $(seq 1 "$N"); do
		k=$(printf '%s%014x' "$1" "$i")
		printf 'entry %s\n' "$k" >"$A/tmp/s.tmp" &&
			mv "$A/tmp/s.tmp" "$A/monomorph/${k:0:2}/${k:2}.bc" || return 1
	done
}

# Opens in a random order through both mounts; between them stats, ls -l
# of whole shards, existence probes and lookups of other keys, through
# both mounts; the LRU order (aria-cache ls) must be the order of opens.
opens_decide() { # opens_decide PREFIX SEED
	python3 - "$A" "$B" "$1" "$N" "$2" "$WORK/order" <<'PY'
import os, random, subprocess, sys
a, b, prefix, n, seed, out = sys.argv[1:]
n = int(n)
rnd = random.Random(int(seed))
keys = ['%s%014x' % (prefix, i) for i in range(1, n + 1)]
path = lambda m, k: os.path.join(m, 'monomorph', k[:2], k[2:] + '.bc')
order = keys[:]
rnd.shuffle(order)
for k in order:
    # what an indexer, a backup or a build tool's stat does
    for _ in range(rnd.randint(1, 4)):
        o, m = rnd.choice(keys), rnd.choice((a, b))
        what = rnd.randrange(4)
        if what == 0:
            os.stat(path(m, o))
        elif what == 1:
            os.path.exists(path(m, o))
        elif what == 2:
            subprocess.run(['ls', '-l', os.path.dirname(path(m, o))],
                           stdout=subprocess.DEVNULL, check=True)
        else:
            os.listdir(os.path.join(m, 'monomorph', o[:2]))
    with open(path(rnd.choice((a, b)), k), 'rb') as f:
        f.read()
open(out, 'w').write('\n'.join(order) + '\n')
PY
}
lru_is_open_order() { # lru_is_open_order PREFIX
	"$ACFS_TOOL" -C "$A" ls --json --sort=atime >"$WORK/ls.json" || return 1
	python3 - "$WORK/ls.json" "$1" "$WORK/order" <<'PY'
import json, sys
ls, prefix, order = sys.argv[1:]
got = [e['key'] for e in json.load(open(ls)) if e['key'].startswith(prefix)]
want = open(order).read().split()
if got != want:
    sys.exit('LRU order %s\nopen order %s' % (got, want))
PY
}

# Another mount stores while this one probes in a tight loop: after the
# rename returned, no probe may say absent.
probe_race() { # probe_race PREFIX
	python3 - "$A" "$B" "$1" "$N" <<'PY'
import multiprocessing as mp, os, sys
a, b, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
keys = ['%s%014x' % (prefix, i) for i in range(1, n + 1)]
path = lambda m, k: os.path.join(m, 'monomorph', k[:2], k[2:] + '.bc')
committed = mp.Array('b', n, lock=False)
go = mp.Event()
def storer():
    go.wait()
    for i, k in enumerate(keys):
        tmp = os.path.join(a, 'tmp', 'p.tmp')
        with open(tmp, 'wb') as f:
            f.write(b'probed ' + k.encode())
        os.rename(tmp, path(a, k))
        committed[i] = 1
# every key probed absent first: the kernel of B caches the misses
for k in keys:
    assert not os.path.exists(path(b, k)), k
s = mp.Process(target=storer)
s.start()
go.set()
stale = probes = 0
for i, k in enumerate(keys):
    while True:
        was = committed[i]
        probes += 1
        if os.path.exists(path(b, k)):
            break
        if was:
            stale += 1
            break
        if s.exitcode is not None and not committed[i]:
            sys.exit('the storer failed (exit %s)' % s.exitcode)
s.join()
print('# %d probes, %d answered absent after the rename returned' % (probes, stale))
sys.exit(1 if stale or s.exitcode else 0)
PY
}

# import keeps a plain cache's use times (its mtimes); a look at every
# entry (stat, ls -l) through the mount must not overwrite them.
import_then_look() { # import_then_look PREFIX
	local P=$WORK/plain.$1 i k t
	for i in $(seq 1 10); do
		k=$(printf '%s%014x' "$1" "$i")
		mkdir -p "$P/monomorph/${k:0:2}"
		printf 'imported %s\n' "$k" >"$P/monomorph/${k:0:2}/${k:2}.bc"
		# used an hour ago, a minute apart, in a shuffled order
		t=$(( $(date +%s) - 3600 + (i * 7 % 10) * 60 ))
		touch -d "@$t" "$P/monomorph/${k:0:2}/${k:2}.bc"
	done
	(cd "$P/monomorph" && ls -1 -tr */*.bc | tr -d / | sed 's/\.bc$//') >"$WORK/order"
	"$ACFS_TOOL" -C "$A" import "$P" >/dev/null || return 1
	for i in $(seq 1 10); do
		k=$(printf '%s%014x' "$1" "$i")
		stat "$A/monomorph/${k:0:2}/${k:2}.bc" >/dev/null &&
			ls -l "$B/monomorph/${k:0:2}" >/dev/null || return 1
	done
	lru_is_open_order "$1"
}

# The kernel's queue of open events overflows while the daemon cannot
# read it (stopped; the kernel serves the opens alone): the entries a
# kernel holds count as used, so the ones opened then are not evicted
# before entries stored after them that nobody opened.
overflow() {
	local i k pid max
	max=$(cat /proc/sys/fs/inotify/max_queued_events)
	for i in $(seq 1 20); do # H: opened while the daemon is stopped
		k=$(printf 'f1%014x' "$i")
		printf 'held %s\n' "$k" >"$A/tmp/o.tmp" && mv "$A/tmp/o.tmp" "$A/monomorph/f1/${k:2}.bc" || return 1
	done
	for i in $(seq 1 10); do # C: stored after, never opened
		k=$(printf 'f2%014x' "$i")
		printf 'cold %s\n' "$k" >"$A/tmp/o.tmp" && mv "$A/tmp/o.tmp" "$A/monomorph/f2/${k:2}.bc" || return 1
	done
	# a fresh daemon: no kernel holds C; B's kernel learns H
	fusermount3 -u "$B" && unmount_cache && mount_cache --hit-mode=kernel --validate=none && join || return 1
	ls -l "$B/monomorph/f1" >/dev/null || return 1
	# the first open of a mount is the OPEN whose ENOSYS turns them off
	cat "$B/monomorph/c1/00000000000001.bc" "$B/monomorph/c1/00000000000002.bc" >/dev/null || return 1
	pid=$(daemon_pid)
	kill -STOP "$pid" || return 1
	timeout 60 python3 - "$B" "$((max + 10))" <<'PY'
import os, sys
b, n = sys.argv[1], int(sys.argv[2])
# the queue fills with opens of two other entries (the kernel merges an
# event identical to the one queued last); the opens of H are lost
x = [os.path.join(b, 'monomorph', 'c1', '%014x.bc' % i) for i in (1, 2)]
for i in range(n):
    os.close(os.open(x[i % 2], os.O_RDONLY))
for i in range(1, 21):
    os.close(os.open(os.path.join(b, 'monomorph', 'f1', '%014x.bc' % i), os.O_RDONLY))
PY
	local rc=$?
	kill -CONT "$pid"
	[ $rc = 0 ] || return 1
	"$ACFS_TOOL" -C "$A" ls --json --sort=atime >"$WORK/ls.json" || return 1
	grep -q "queue of open events overflowed" "$WORK/daemon.err" || { echo "no overflow logged"; return 1; }
	python3 - "$WORK/ls.json" <<'PY'
import json, sys
keys = [e['key'] for e in json.load(open(sys.argv[1])) if e['key'][:2] in ('f1', 'f2')]
last_cold = max(i for i, k in enumerate(keys) if k.startswith('f2'))
first_held = min(i for i, k in enumerate(keys) if k.startswith('f1'))
print('# eviction order: %s' % ' '.join(k[:2] for k in keys))
sys.exit(0 if last_cold < first_held else 'an entry opened during the overflow comes before one never opened')
PY
}

for mode in kernel open; do
	ok "$mode: mount A --hit-mode=$mode" mount_cache --hit-mode=$mode --validate=none
	ok "$mode: mount B joins the daemon" join
	p=$([ $mode = kernel ] && echo c1 || echo c2)
	ok "$mode: $N entries stored through A" store_keys "$p"
	for seed in 1 2; do
		ok "$mode: opens through A and B in a random order (seed $seed), stats and ls -l between" opens_decide "$p" "$seed"
		ok "$mode: the LRU order is the order of the opens" lru_is_open_order "$p"
	done
	p=$([ $mode = kernel ] && echo d1 || echo d2)
	ok "$mode: B probes each key in a tight loop while A stores it" probe_race "$p"
	p=$([ $mode = kernel ] && echo e1 || echo e2)
	ok "$mode: import keeps the plain cache's use times through stat and ls -l" import_then_look "$p"
	[ $mode = kernel ] &&
		ok "kernel: opens past the event queue's size while the daemon is stopped: what the kernels held counts as used" overflow
	ok "$mode: unmount B" fusermount3 -u "$B"
	ok "$mode: unmount A" unmount_cache
done
ok "store invariants hold" "$ACFS_CHECK" "$STORE/db"
finish
