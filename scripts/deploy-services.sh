#!/usr/bin/env bash
# Install the Debian packages the deployment tests need, when they are missing:
# redis-sentinel (the Sentinel failover test, in the normal suite), and for the
# container test (`make deploy-check`): podman with runc, mmdebstrap to build root
# filesystems from Debian's packages, podman-compose, and the tools the stack test
# drives (caddy for its configuration check, openssl).
set -euo pipefail

need=()
for pkg in redis-server redis-sentinel postgresql-client "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
