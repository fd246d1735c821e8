#!/bin/bash
# A Redis Cluster as the remote tier: three real redis-server nodes on
# 127.0.0.1 with the 16384 slots split between them. Daemon A is given one
# node, daemon B another; entries hash to slots on every node, so both
# follow MOVED replies to share all of them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/remote-lib.sh"

PORTS=()
start_node() { # start_node PORT: one cluster-enabled node
	local port=$1
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--cluster-enabled yes --cluster-config-file "$WORK/nodes-$port.conf" \
		--dir "$WORK" --logfile "$WORK/redis-$port.log" </dev/null >/dev/null 2>&1 &
	echo $! >"$WORK/redis-$port.pid"
	wait_until "node $port answers" 30 "redis-cli -p $port ping 2>/dev/null | grep -q PONG"
}
cluster() {
	local p
	for p in "${PORTS[@]}"; do start_node "$p" || return 1; done
	redis-cli --cluster create $(for p in "${PORTS[@]}"; do echo "127.0.0.1:$p"; done) \
		--cluster-replicas 0 --cluster-yes >"$WORK/create.log" 2>&1 || { cat "$WORK/create.log"; return 1; }
	for p in "${PORTS[@]}"; do
		wait_until "node $p sees the cluster ok" 60 "redis-cli -p $p cluster info | grep -q 'cluster_state:ok'" || return 1
	done
}
# A node also listens on its port + 10000 (the cluster bus): both free.
cluster_port() {
	python3 -c '
import random, socket
while True:
    p = random.randint(20000, 55000)
    try:
        for q in (p, p + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p); break
    except OSError:
        pass'
}
for i in 1 2 3; do PORTS+=("$(cluster_port)"); done
ok "make a corpus of 30 real bitcode modules" make_corpus "$WORK/c" 30 cl
ok "a 3-node Redis Cluster on ${PORTS[*]}" cluster
ok "mount A (given node 1)" daemon_up a --remote "redis://127.0.0.1:${PORTS[0]}"
ok "mount B (given node 2, read-only)" daemon_up b --remote "redis://127.0.0.1:${PORTS[1]}" \
	--remote-mode read-only --remote-wait 5s
ok "A stores 30 entries" store_all "$WORK/a" "$WORK/c"
ok "aria-cache sync: every upload done" tool a sync --timeout 60s
ok "A uploaded 30 with no failure" test "$(rstat a uploads 0) $(rstat a upload_errors 0) $(rstat a upload_dropped 0)" = "30 0 0"
spread() {
	local p n
	for p in "${PORTS[@]}"; do
		n=$(redis-cli -p "$p" dbsize)
		echo "node $p holds $n keys"
		[ "$n" -gt 0 ] || return 1
	done
}
ok "the objects are spread over all 3 nodes" spread
ok "B reads all 30, byte for byte, through the cluster" same_all "$WORK/b" "$WORK/c"
ok "B counts 30 remote hits, no error" test "$(rstat b hits 0) $(rstat b errors 0)" = "30 0"
ok "unmount A" daemon_down a
ok "unmount B" daemon_down b
finish
