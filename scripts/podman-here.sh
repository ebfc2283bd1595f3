#!/usr/bin/env bash
# Run podman (or podman-compose) with the settings this kind of machine needs
# (deploy/podman-here/): vfs storage in a store of the project's own, runc,
# cgroupfs, explicit ulimits. On a production host run podman itself instead.
#   scripts/podman-here.sh podman images
#   scripts/podman-here.sh podman-compose -f deploy/compose.yaml up -d
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
store=${SAFECALL_PODMAN_STORE:-/var/tmp/safecall-podman}
mkdir -p "$store"
conf="$store/storage.conf"
{
    cat "$here/deploy/podman-here/storage.conf"
    echo "graphroot = \"$store/storage\""
    echo "runroot = \"$store/run\""
} >"$conf"
export CONTAINERS_STORAGE_CONF="$conf"
export CONTAINERS_CONF="$here/deploy/podman-here/containers.conf"
exec "$@"
