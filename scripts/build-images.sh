#!/usr/bin/env bash
# Build the deployment's images from Debian's packages, with podman:
#   1. a Debian bookworm root filesystem made by mmdebstrap from the same mirror apt
#      uses here (no base image can be pulled on these machines), imported as
#      localhost/debian:bookworm;
#   2. localhost/safecall (deploy/Containerfile): the server, its Python packages
#      from PyPI, run as an unprivileged user;
#   3. localhost/safecall-services (deploy/services.Containerfile): Debian's caddy,
#      postgresql, redis, redis-sentinel and coturn for the compose stack.
# A step is skipped when its image exists and was built from the same files (a
# label holds their hash); SAFECALL_REBUILD=1 rebuilds all.
# Usage: scripts/build-images.sh   (podman itself runs through scripts/podman-here.sh
# on machines like CI's; set PODMAN=podman on a production host)
set -euo pipefail
cd "$(dirname "$0")/.."
PODMAN=${PODMAN:-scripts/podman-here.sh podman}
rebuild=${SAFECALL_REBUILD:-0}

has() { [[ "$rebuild" != 1 ]] && $PODMAN image exists "$1"; }
# The hash of the files an image is built from.
source_hash() {
    find "$@" -type f -not -path '*/__pycache__/*' -not -name '*.pyc' -print0 | sort -z |
        xargs -0 sha256sum | sha256sum | cut -c1-16
}
current() { # image, hash
    has "$1" && [[ "$($PODMAN image inspect --format '{{index .Labels "safecall.source"}}' "$1")" == "$2" ]]
}

if ! has localhost/debian:bookworm; then
    work=$(mktemp -d /var/tmp/safecall-rootfs.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    sources=/etc/apt/sources.list.d/debian.sources
    [[ -f $sources ]] || sources=/etc/apt/sources.list
    echo "building the Debian root filesystem (mmdebstrap, from $sources)"
    mmdebstrap --quiet --variant=minbase --include=ca-certificates \
        --aptopt='APT::Install-Recommends "false"' \
        bookworm "$work/rootfs.tar" "$sources"
    $PODMAN import --change 'CMD ["/bin/bash"]' "$work/rootfs.tar" localhost/debian:bookworm >/dev/null
fi
# --isolation chroot: the RUN steps need no OCI runtime; --network host: apt and pip
# reach their registries.
build=($PODMAN build --quiet --isolation chroot --network host --build-arg BASE=localhost/debian:bookworm)
# Where TLS to PyPI passes a re-signing proxy, the host's CA bundle is lent to the
# build (mounted, not copied into the image).
host_ca=/etc/ssl/certs/ca-certificates.crt
if [[ -f $host_ca ]]; then
    build+=(--volume "$host_ca:/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt)
fi
app=$(source_hash pyproject.toml README.md deploy/Containerfile safecall audit sealing cases \
    officers queues signaling media ivr recordings)
if ! current localhost/safecall:latest "$app"; then
    echo "building localhost/safecall"
    "${build[@]}" --build-arg "SOURCE=$app" -f deploy/Containerfile \
        -t localhost/safecall:latest . >/dev/null
fi
services=$(source_hash deploy/services.Containerfile deploy/services)
if ! current localhost/safecall-services:latest "$services"; then
    echo "building localhost/safecall-services"
    "${build[@]}" --build-arg "SOURCE=$services" -f deploy/services.Containerfile \
        -t localhost/safecall-services:latest deploy >/dev/null
fi
$PODMAN image prune -f >/dev/null # layers of images rebuilt (vfs copies every layer whole)
$PODMAN images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'safecall|debian' || true
