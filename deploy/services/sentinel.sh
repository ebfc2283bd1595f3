#!/bin/sh
# Start a Redis Sentinel watching the master $MASTER_HOST:$MASTER_PORT under the
# name $MASTER_NAME (quorum $QUORUM). Sentinel rewrites its own configuration
# file, so it lives in the container's data folder, written on first start.
set -eu
conf=${SENTINEL_DIR:-/data}/sentinel.conf
mkdir -p "$(dirname "$conf")"
if [ ! -s "$conf" ]; then
    cat >"$conf" <<CONF
port ${SENTINEL_PORT:-26379}
bind ${SENTINEL_BIND:-0.0.0.0}
dir $(dirname "$conf")
sentinel resolve-hostnames yes
sentinel monitor ${MASTER_NAME:-safecall} ${MASTER_HOST:?} ${MASTER_PORT:-6379} ${QUORUM:-2}
sentinel down-after-milliseconds ${MASTER_NAME:-safecall} ${DOWN_AFTER_MS:-5000}
sentinel failover-timeout ${MASTER_NAME:-safecall} ${FAILOVER_TIMEOUT_MS:-60000}
sentinel parallel-syncs ${MASTER_NAME:-safecall} 1
CONF
fi
exec redis-sentinel "$conf"
