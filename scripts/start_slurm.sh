#!/usr/bin/env bash
# Start munged, slurmctld and slurmd (idempotent), then wait until the node is idle.
#
# Usage (as root, after scripts/install_slurm.sh): bash scripts/start_slurm.sh
# Env: SLURM_START_TIMEOUT_S (default 60) bounds the wait.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "start_slurm.sh: must run as root" >&2
    exit 1
fi
if [[ ! -f /etc/slurm/slurm.conf ]]; then
    echo "start_slurm.sh: /etc/slurm/slurm.conf is missing; run scripts/install_slurm.sh first" >&2
    exit 1
fi

TIMEOUT_S=${SLURM_START_TIMEOUT_S:-60}
NODE_NAME=$(hostname -s)

running() { # running PIDFILE NAME: true when the pid in PIDFILE is alive and is NAME
    local pid
    [[ -s $1 ]] || return 1
    pid=$(cat "$1")
    [[ -d /proc/$pid ]] && grep -q "$2" "/proc/$pid/comm" 2>/dev/null
}

mkdir -p /run/munge /var/spool/slurmd /var/spool/slurmctld /var/log/slurm /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 755 /run/munge

if running /run/munge/munged.pid munged; then
    echo "start_slurm.sh: munged already running"
else
    runuser -u munge -- /usr/sbin/munged --force
    echo "start_slurm.sh: started munged"
fi

if running /run/slurmctld.pid slurmctld; then
    echo "start_slurm.sh: slurmctld already running"
else
    /usr/sbin/slurmctld
    echo "start_slurm.sh: started slurmctld"
fi

if running /run/slurmd.pid slurmd; then
    echo "start_slurm.sh: slurmd already running"
else
    /usr/sbin/slurmd -N "$NODE_NAME"
    echo "start_slurm.sh: started slurmd -N $NODE_NAME"
fi

deadline=$((SECONDS + TIMEOUT_S))
state=""
while ((SECONDS < deadline)); do
    state=$(sinfo -h -n "$NODE_NAME" -o '%T' 2>/dev/null | head -n1 || true)
    case "$state" in
    idle | mixed | allocated | completing)
        echo "start_slurm.sh: node $NODE_NAME is $state"
        exit 0
        ;;
    down* | drain* | *'*')
        scontrol update NodeName="$NODE_NAME" State=RESUME >/dev/null 2>&1 || true
        ;;
    esac
    sleep 1
done
echo "start_slurm.sh: node $NODE_NAME not ready after ${TIMEOUT_S}s (state: '${state:-unknown}')." >&2
echo "See /var/log/slurm/slurmctld.log and /var/log/slurm/slurmd.log; last lines:" >&2
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
