#!/usr/bin/env bash
# Install this machine's Docker engine (Debian's docker.io) and debootstrap, which makes the offline base image.
#
# Usage (as root on Debian): bash scripts/install_docker.sh
# Re-runnable: packages already present are kept. Then: scripts/start_docker.sh (the daemon) and
# scripts/build_base_image.sh (nemo-pipeline/base:bookworm, the base the project's dockerfiles build on here).
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "install_docker.sh: must run as root (it installs packages)" >&2
    exit 1
fi

need=()
for pkg in docker.io debootstrap curl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "install_docker.sh: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
else
    echo "install_docker.sh: docker.io and debootstrap are installed"
fi
