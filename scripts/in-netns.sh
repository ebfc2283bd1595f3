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
redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir "$run_dir" --pidfile "$run_dir/redis.pid" --logfile "$run_dir/redis.log"
cleanup() {
    [[ -f "$run_dir/redis.pid" ]] && kill "$(cat "$run_dir/redis.pid")" 2>/dev/null || true
    rm -rf "$run_dir"
}
trap cleanup EXIT
for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.1; done
env -u SAFECALL_TEST_REDIS "$@"
