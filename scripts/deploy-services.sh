#!/usr/bin/env bash
# Install what `make deploy-check` needs beyond scripts/test-services.sh, when missing:
# podman with runc (crun fails on these machines), and mmdebstrap, which builds the
# images' root filesystem from Debian's packages (no base image can be pulled here).
set -euo pipefail

need=()
for pkg in podman runc mmdebstrap; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
