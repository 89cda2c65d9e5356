#!/usr/bin/env bash
# Make the base image the project's dockerfiles build on where no image registry is reachable: Debian bookworm
# (minbase) from Debian's own mirror with debootstrap, imported into the local engine as nemo-pipeline/base:bookworm.
# The dockerfiles' default base is the public debian image of the same release (see dockerfiles/README.md); builds
# here pass `--build-arg BASE_IMAGE=nemo-pipeline/base:bookworm`.
#
# Usage (as root, with the engine running: scripts/start_docker.sh): bash scripts/build_base_image.sh
# Env: NEMO_BASE_IMAGE (default nemo-pipeline/base:bookworm), DEBIAN_MIRROR (default: the first deb.debian.org-style
# URI apt uses here, else http://deb.debian.org/debian).
# The image trusts the certificate authorities this machine trusts (its /etc/ssl/certs bundle and
# /usr/local/share/ca-certificates), so pip inside a build reaches PyPI through the same TLS proxy as here.
# Idempotent: an image of that name whose label nemo-pipeline.inputs matches this script and that bundle is kept.
# About 30-80 s and 120 MB.
set -euo pipefail

IMAGE=${NEMO_BASE_IMAGE:-nemo-pipeline/base:bookworm}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [[ $(id -u) -ne 0 ]]; then
    echo "build_base_image.sh: must run as root (debootstrap)" >&2
    exit 1
fi
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
if [[ ! -s $CA_BUNDLE ]]; then
    echo "build_base_image.sh: $CA_BUNDLE is missing (apt-get install ca-certificates)" >&2
    exit 1
fi
inputs=$(cat "$0" "$CA_BUNDLE" /usr/local/share/ca-certificates/*.crt 2>/dev/null | sha256sum | cut -c1-64)
if [[ $(docker image inspect -f '{{index .Config.Labels "nemo-pipeline.inputs"}}' "$IMAGE" 2>/dev/null) == "$inputs" ]]; then
    echo "build_base_image.sh: $IMAGE is up to date"
    exit 0
fi

root=$(mktemp -d /var/tmp/nemo-base-XXXXXX)
trap 'rm -rf "$root"' EXIT
start=$SECONDS
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 || {
    echo "build_base_image.sh: debootstrap $SUITE from $MIRROR failed; last lines of $root.log:" >&2
    tail -n 20 "$root.log" >&2
    exit 1
}
rm -f "$root.log"
# The same apt sources as the public debian:bookworm image (updates and security), and no package caches.
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
SOURCES
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
mkdir -p "$root/etc/ssl/certs" "$root/usr/local/share/ca-certificates"
cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change "LABEL nemo-pipeline.inputs=$inputs" \
    --change 'CMD ["bash"]' \
    --message "debootstrap --variant=minbase $SUITE $MIRROR" - "$IMAGE" >/dev/null
echo "build_base_image.sh: built $IMAGE in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
