#!/usr/bin/env bash
# Run a command in a new loopback-only network namespace, with its own Redis.
# Browser and WebRTC tests run here: nothing they do can leave the machine,
# and services started outside the namespace cannot be reached from inside.
set -euo pipefail
if [[ "${SAFECALL_IN_NETNS:-}" != "1" ]]; then
    export SAFECALL_IN_NETNS=1
    exec unshare --net -- "$0" "$@"
fi
ip link set lo up
run_dir=$(mktemp -d /tmp/safecall-netns.XXXXXX)
# As in production (docs/operations.md): an append-only file (in the run directory), no RDB.
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly yes \
    --appendfsync everysec --dir "$run_dir" --pidfile "$run_dir/redis.pid" \
    --logfile "$run_dir/redis.log"
cleanup() {
    if [[ -f "$run_dir/redis.pid" ]]; then
        pid=$(cat "$run_dir/redis.pid")
        kill "$pid" 2>/dev/null || true
        # its append-only file is written on the way out: let it finish before removing it
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$run_dir"
}
trap cleanup EXIT
for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.1; done
env -u SAFECALL_TEST_REDIS "$@"
