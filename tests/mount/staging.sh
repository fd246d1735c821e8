#!/bin/bash
# Staging: a file being written keeps its bytes in the daemon's memory up to
# 1 MiB (and a quarter of --max-loaded in all), else in a staging file; a
# temp file of bitcode is validated and encoded when its writer closes it,
# and the rename then only writes. Whatever the path, what a client reads
# back and what a rename commits are exactly the bytes it wrote last.
. "$(dirname "$0")/lib.sh"

"$ACFS_GEN" "$WORK/a.bc" stga 40 || exit 1
"$ACFS_GEN" "$WORK/b.bc" stgb 90 || exit 1
"$ACFS_GEN" "$WORK/big.bc" stgbig 9000 || exit 1 # past 1 MiB
"$ACFS_GEN" "$WORK/mid.bc" stgmid 4300 || exit 1 # about 800 KiB
# 8M: the staging budget is 2 MiB.
ok "mount (--max-loaded 8M)" mount_cache --max-loaded 8M

py() { python3 - "$MNT" "$WORK" "$@"; }
staging_fds() { # staging files the daemon holds open
	ls -l "/proc/$(daemon_pid)/fd" 2>/dev/null | grep -c "$STORE/staging/"
}

ok "a temp file written with a hole and overwritten reads back exactly" py <<'PY'
import os, sys
mnt = sys.argv[1]
p = os.path.join(mnt, 'tmp', 'hole')
with open(p, 'wb') as f:
    f.write(b'A' * 5000)
    f.seek(100000)
    f.write(b'B' * 3000)
    f.seek(10)
    f.write(b'C' * 20)
want = bytearray(b'A' * 5000) + bytes(95000) + b'B' * 3000
want[10:30] = b'C' * 20
got = open(p, 'rb').read()
assert got == bytes(want), 'read back %d bytes, differ' % len(got)
assert os.stat(p).st_size == 103000
os.unlink(p)
PY

ok "truncate down then up zeroes what was cut" py <<'PY'
import os, sys
p = os.path.join(sys.argv[1], 'tmp', 'trunc')
with open(p, 'wb') as f:
    f.write(b'x' * 5000)
os.truncate(p, 100)
os.truncate(p, 3000)
got = open(p, 'rb').read()
assert got == b'x' * 100 + bytes(2900), 'tail not zero: %r' % got[100:120]
os.unlink(p)
PY

ok "an entry written past 1 MiB in 64 KiB pieces commits whole" py <<'PY'
import os, sys
mnt, work = sys.argv[1], sys.argv[2]
src = open(os.path.join(work, 'big.bc'), 'rb').read()
assert len(src) > 1 << 20, len(src)
t = os.path.join(mnt, 'tmp', 'big')
with open(t, 'wb') as f:
    for i in range(0, len(src), 65536):
        f.write(src[i:i + 65536])
assert open(t, 'rb').read() == src
dst = os.path.join(mnt, 'monomorph', '5a', '00000000000001.bc')
os.rename(t, dst)
assert open(dst, 'rb').read() == src
PY

# Three files of about 800 KiB open at once: the budget (2 MiB) holds two
# in memory; the third goes to a staging file. All three commit whole.
ok "past the staging budget a file is staged on disk, and commits whole" py "$STORE" <<'PY'
import os, sys
mnt, work, store = sys.argv[1], sys.argv[2], sys.argv[3]
src = open(os.path.join(work, 'mid.bc'), 'rb').read()
assert 600 << 10 < len(src) < 1 << 20, len(src)
pid = open(os.path.join(store, 'daemon.lock')).read().split()[1]
def staging():
    n = 0
    for fd in os.listdir('/proc/%s/fd' % pid):
        try:
            n += os.readlink('/proc/%s/fd/%s' % (pid, fd)).startswith(
                os.path.join(store, 'staging') + '/')
        except OSError:
            pass
    return n
assert staging() == 0, 'staging files open before: %d' % staging()
fs = []
for i in range(3):
    f = open(os.path.join(mnt, 'tmp', 'mid%d' % i), 'wb')
    f.write(src)
    f.flush()
    fs.append(f)
held = staging()
assert held >= 1, 'three files of %d bytes, none on disk' % len(src)
for i, f in enumerate(fs):
    f.close()
    dst = os.path.join(mnt, 'monomorph', '5b', '%014x.bc' % i)
    os.rename(os.path.join(mnt, 'tmp', 'mid%d' % i), dst)
    assert open(dst, 'rb').read() == src, 'entry %d differs' % i
print('staging files while three were open: %d' % held)
PY
ok "no staging file is left open once they committed" wait_until \
	"staging files closed" 10 '[ "$(staging_fds)" -eq 0 ]'

# A temp file's commit is prepared at close; a change after that close
# must be what the rename commits (or refuses).
ok "rewritten after its close, the rename commits the new bytes" py <<'PY'
import os, sys
mnt, work = sys.argv[1], sys.argv[2]
a = open(os.path.join(work, 'a.bc'), 'rb').read()
b = open(os.path.join(work, 'b.bc'), 'rb').read()
t = os.path.join(mnt, 'tmp', 'rw')
with open(t, 'wb') as f:
    f.write(a)                       # closed: prepared with a
with open(t, 'wb') as f:             # O_TRUNC, then b
    f.write(b)
dst = os.path.join(mnt, 'monomorph', '5c', '00000000000001.bc')
os.rename(t, dst)
got = open(dst, 'rb').read()
assert got == b, 'committed %s' % ('the bytes prepared before' if got == a else '%d other bytes' % len(got))
PY

ok "damaged after its close (fd kept open elsewhere), the rename is refused" py <<'PY'
import errno, os, sys
mnt, work = sys.argv[1], sys.argv[2]
a = open(os.path.join(work, 'a.bc'), 'rb').read()
t = os.path.join(mnt, 'tmp', 'dmg')
keep = open(t, 'wb')
with open(t, 'r+b') as f:
    f.write(a)                       # this close prepares it
keep.seek(0)
keep.write(b'JUNK')                  # magic gone
keep.flush()
dst = os.path.join(mnt, 'monomorph', '5c', '00000000000002.bc')
try:
    os.rename(t, dst)
except OSError as e:
    assert e.errno == errno.EINVAL, os.strerror(e.errno)
else:
    raise SystemExit('rename of damaged bitcode succeeded')
assert not os.path.exists(dst)
keep.close()
os.unlink(t)
PY

ok "prepared bitcode renamed to a .meta name is checked as JSON" py <<'PY'
import errno, os, sys
mnt, work = sys.argv[1], sys.argv[2]
a = open(os.path.join(work, 'a.bc'), 'rb').read()
t = os.path.join(mnt, 'tmp', 'meta')
with open(t, 'wb') as f:
    f.write(a)
try:
    os.rename(t, os.path.join(mnt, 'monomorph', '5c', '00000000000003.meta'))
except OSError as e:
    assert e.errno == errno.EINVAL, os.strerror(e.errno)
else:
    raise SystemExit('bitcode committed as a .meta')
os.unlink(t)
PY

ok "invalid bytes closed, then made valid: the rename commits them" py <<'PY'
import os, sys
mnt, work = sys.argv[1], sys.argv[2]
a = open(os.path.join(work, 'a.bc'), 'rb').read()
t = os.path.join(mnt, 'tmp', 'fix')
with open(t, 'wb') as f:
    f.write(b'BC\xc0\xde' + b'\0' * 100)   # bitcode magic, no module
with open(t, 'r+b') as f:
    f.truncate(0)
    f.write(a)
dst = os.path.join(mnt, 'monomorph', '5c', '00000000000004.bc')
os.rename(t, dst)
assert open(dst, 'rb').read() == a
PY

ok "unmount" unmount_cache
ok "aria-cache verify finds every entry intact" "$ACFS_TOOL" --store "$STORE" verify
ok "mount again" mount_cache
ok "the six committed entries read back after the remount" py <<'PY'
import os, sys
mnt, work = sys.argv[1], sys.argv[2]
want = {('5a', 1): 'big.bc', ('5c', 1): 'b.bc', ('5c', 4): 'a.bc',
        ('5b', 0): 'mid.bc', ('5b', 1): 'mid.bc', ('5b', 2): 'mid.bc'}
for (shard, n), name in want.items():
    got = open(os.path.join(mnt, 'monomorph', shard, '%014x.bc' % n), 'rb').read()
    assert got == open(os.path.join(work, name), 'rb').read(), (shard, n)
PY

# A direct writer killed mid-write (SIGKILL at a random offset, and once
# after its last byte) never gets what it left committed, at every
# validation level; one that exits without close(2) does.
for level in none magic parse; do
	ok "unmount" unmount_cache
	ok "mount --validate $level" mount_cache --validate "$level"
	ok "--validate $level: 12 writers killed mid-write commit nothing" py "$level" <<'PY'
import os, random, signal, sys
mnt, work, level = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(os.path.join(work, 'b.bc'), 'rb').read()
shard = {'none': '6a', 'magic': '6b', 'parse': '6c'}[level]
os.makedirs(os.path.join(mnt, 'monomorph', shard), exist_ok=True)
rng = random.Random(level)
offsets = [rng.randrange(1, len(data)) for _ in range(11)] + [len(data)]
for i, off in enumerate(offsets):
    path = os.path.join(mnt, 'monomorph', shard, '%014x.bc' % (i + 1))
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r); os.close(hold_w)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        done = 0
        while done < off:
            done += os.write(fd, data[done:min(off, done + 4096)])
        os.write(ready_w, b'x')
        os.read(hold_r, 1)        # blocks until killed: the fd stays open
        os._exit(0)
    os.close(ready_w); os.close(hold_r)
    assert os.read(ready_r, 1) == b'x'
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(ready_r); os.close(hold_w)
    assert not os.path.exists(path), 'killed at %d of %d: committed' % (off, len(data))
# The control: a writer that exits without closing its file commits it.
path = os.path.join(mnt, 'monomorph', shard, '%014x.bc' % 99)
pid = os.fork()
if pid == 0:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    done = 0
    while done < len(data):
        done += os.write(fd, data[done:])
    os._exit(0)
os.waitpid(pid, 0)
assert open(path, 'rb').read() == data, 'a normal exit did not commit'
PY
	ok "--validate $level: written through a shared mapping, renamed while mapped (and after munmap): the written bytes commit" py "$level" <<'PY'
import mmap, os, sys
mnt, work, level = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(os.path.join(work, 'b.bc'), 'rb').read()
shard = {'none': '7a', 'magic': '7b', 'parse': '7c'}[level]
os.makedirs(os.path.join(mnt, 'monomorph', shard), exist_ok=True)
for i in range(10):
    t = os.path.join(mnt, 'tmp', 'map%d.tmp' % i)
    fd = os.open(t, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    os.ftruncate(fd, len(data))
    m = mmap.mmap(fd, len(data), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    m[:] = data
    if i % 2:
        m.close()      # LLVM's FileOutputBuffer: unmap, rename, close
    dst = os.path.join(mnt, 'monomorph', shard, '%014x.bc' % (i + 1))
    os.rename(t, dst)
    if not i % 2:
        m.close()
    os.close(fd)
    assert open(dst, 'rb').read() == data, 'round %d: other bytes committed' % i
PY
	ok "--validate $level: the log names each dropped entry" sh -c \
		"[ \$(grep -c 'killed by a signal before it closed' '$WORK/daemon.err') -ge 12 ]"
	: >"$WORK/daemon.err"
done
finish
