#!/usr/bin/env bash
# Run a command in a new network namespace: only a loopback interface of its own, no route anywhere, so any outbound
# connection fails at once (ENETUNREACH) instead of hanging or phoning home.
#
# Usage: bash scripts/netns_run.sh COMMAND [ARGS...]
# As root it uses `unshare --net`; otherwise `unshare --map-root-user --net` (needs unprivileged user namespaces).
# Note: 127.0.0.1 inside is NOT the host's loopback: services on the host (slurmctld, a scripted server) are out of
# reach too. Tests that need them run with the network and guard their own connections instead (docs/CLUSTERS.md).
set -euo pipefail

if (($# == 0)); then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi
if ! command -v unshare >/dev/null; then
    echo "netns_run.sh: 'unshare' (util-linux) is not installed" >&2
    exit 1
fi
flags=(--net)
[[ $(id -u) -ne 0 ]] && flags=(--map-root-user --net)
# Bring the namespace's own loopback up (a server and its client inside may talk over it); ip may be absent.
exec unshare "${flags[@]}" -- bash -c 'ip link set lo up >/dev/null 2>&1 || true; exec "$@"' netns_run "$@"
