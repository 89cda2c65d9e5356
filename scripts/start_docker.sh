#!/usr/bin/env bash
# Start this machine's Docker engine (dockerd, as root) unless one already answers, then wait until it does.
#
# Usage (as root, after scripts/install_docker.sh): bash scripts/start_docker.sh
# Env: DOCKER_START_TIMEOUT_S (default 60) bounds the wait; DOCKER_STORAGE_DRIVER (default: overlay2 when the
# kernel has overlayfs, else vfs).
#
# The daemon leaves the host's firewall and interfaces alone (--iptables=false --ip-masq=false --bridge=none):
# containers use the host network (`--network host`, what conf/cluster/docker-local.yaml asks), so a server, its
# sandbox and its client talk over 127.0.0.1 as they do in a Slurm job. Log: /var/log/dockerd.log.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "start_docker.sh: must run as root" >&2
    exit 1
fi
if ! command -v dockerd >/dev/null; then
    echo "start_docker.sh: dockerd is missing; run scripts/install_docker.sh first" >&2
    exit 1
fi

TIMEOUT_S=${DOCKER_START_TIMEOUT_S:-60}
SOCKET=/var/run/docker.sock
LOG=/var/log/dockerd.log

answers() { curl --silent --fail --max-time 2 --unix-socket "$SOCKET" http://localhost/_ping >/dev/null 2>&1; }

if answers; then
    echo "start_docker.sh: the engine already answers at $SOCKET"
    exit 0
fi

driver=${DOCKER_STORAGE_DRIVER:-}
if [[ -z $driver ]]; then
    driver=vfs
    grep -qw overlay /proc/filesystems && driver=overlay2
fi
# A daemon killed uncleanly leaves its pid file behind, and a new one refuses to start while it names a live pid.
if [[ -s /var/run/docker.pid ]] && ! grep -q dockerd "/proc/$(cat /var/run/docker.pid)/comm" 2>/dev/null; then
    rm -f /var/run/docker.pid
fi
setsid dockerd --storage-driver="$driver" --iptables=false --ip-masq=false --bridge=none \
    >>"$LOG" 2>&1 </dev/null &
pid=$!

deadline=$((SECONDS + TIMEOUT_S))
until answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "start_docker.sh: dockerd exited at start; last lines of $LOG:" >&2
        tail -n 20 "$LOG" >&2
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "start_docker.sh: dockerd (pid $pid) not answering at $SOCKET after ${TIMEOUT_S}s; see $LOG" >&2
        tail -n 20 "$LOG" >&2
        exit 1
    fi
    sleep 0.2
done
echo "start_docker.sh: started dockerd (pid $pid, storage driver $driver); it answers at $SOCKET"
