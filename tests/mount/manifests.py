#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# manifests.py MNT WRITERS ROUNDS READERS [PROGRESS]: build tools rewrite
# globs/manifest.json (temp file + rename) while readers read it; each
# manifest carries the SHA-256 of its body, so a torn or mixed read shows.
import hashlib, json, os, random, sys
from multiprocessing import Process, Value
mnt, writers, rounds, readers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
progress = sys.argv[5] if len(sys.argv) > 5 else None
d = os.path.join(mnt, 'globs')
os.makedirs(d, exist_ok=True)
target = os.path.join(d, 'manifest.json')

def manifest(w, i):
    files = ['src/%s/%d.aria' % (random.choice('abcdef'), random.randrange(10**6)) for _ in range(random.randrange(1, 400))]
    body = json.dumps({'writer': w, 'round': i, 'files': files})
    return json.dumps({'sha': hashlib.sha256(body.encode()).hexdigest(), 'body': body})

def whole(text):
    m = json.loads(text)
    return hashlib.sha256(m['body'].encode()).hexdigest() == m['sha']

def writer(w, done):
    for i in range(rounds):
        tmp = os.path.join(d, '.manifest.%d.%d.tmp' % (os.getpid(), i))
        with open(tmp, 'w') as f:
            f.write(manifest(w, i))
        os.rename(tmp, target)
        with done.get_lock():
            done.value += 1
            if progress:  # replaced whole: a reader never sees it empty
                with open(progress + '.tmp', 'w') as p:
                    p.write(str(done.value))
                os.replace(progress + '.tmp', progress)

def reader(stop, bad, good):
    while not stop.value:
        try:
            with open(target) as f:
                text = f.read()
        except FileNotFoundError:
            continue
        if whole(text):
            good.value += 1
        else:
            bad.value += 1

done, stop, bad, good = Value('i', 0), Value('i', 0), Value('i', 0), Value('i', 0)
ws = [Process(target=writer, args=(w, done)) for w in range(writers)]
rs = [Process(target=reader, args=(stop, bad, good)) for _ in range(readers)]
for p in rs + ws: p.start()
for p in ws: p.join()
stop.value = 1
for p in rs: p.join()
with open(target) as f:
    last_ok = whole(f.read())
print('%d renames, %d whole reads, %d torn reads, last manifest whole: %s' % (done.value, good.value, bad.value, last_ok))
sys.exit(0 if bad.value == 0 and last_ok and all(p.exitcode == 0 for p in ws) else 1)
