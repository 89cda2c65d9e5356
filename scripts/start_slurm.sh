#!/usr/bin/env bash
# Start munged, slurmctld and slurmd (idempotent), then wait until the node is idle. When slurm.conf names
# slurmdbd accounting (scripts/install_slurm.sh does by default), also MariaDB on 127.0.0.1 and slurmdbd, and
# register the cluster with sacctmgr, before slurmctld.
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

wait_for() { # wait_for WHAT COMMAND...: run COMMAND until it succeeds, at most TIMEOUT_S seconds
    local what=$1 deadline=$((SECONDS + TIMEOUT_S))
    shift
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            echo "start_slurm.sh: $what not ready after ${TIMEOUT_S}s (waited for: $*)" >&2
            return 1
        fi
        sleep 1
    done
}

CLUSTER=$(awk -F= '/^ClusterName=/ {print $2}' /etc/slurm/slurm.conf)
if grep -q '^AccountingStorageType=accounting_storage/slurmdbd' /etc/slurm/slurm.conf; then
    if mysqladmin ping >/dev/null 2>&1; then
        echo "start_slurm.sh: mariadb already running"
    else
        mkdir -p /run/mysqld
        chown mysql:mysql /run/mysqld
        setsid mysqld_safe --bind-address=127.0.0.1 >>/var/log/slurm/mariadb.log 2>&1 </dev/null &
        wait_for "mariadb" mysqladmin ping || {
            tail -n 20 /var/log/slurm/mariadb.log >&2
            exit 1
        }
        echo "start_slurm.sh: started mariadb on 127.0.0.1"
    fi
    db_pass=$(awk -F= '/^StoragePass=/ {print $2}' /etc/slurm/slurmdbd.conf)
    mysql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
        CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$db_pass';
        CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$db_pass';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
    if running /run/slurmdbd.pid slurmdbd; then
        echo "start_slurm.sh: slurmdbd already running"
    else
        /usr/sbin/slurmdbd
        echo "start_slurm.sh: started slurmdbd"
    fi
    wait_for "slurmdbd" sacctmgr -n show cluster || {
        tail -n 20 /var/log/slurm/slurmdbd.log >&2
        exit 1
    }
    if ! sacctmgr -n -P show cluster format=cluster | grep -qx "$CLUSTER"; then
        sacctmgr -i add cluster "$CLUSTER" >/dev/null
        echo "start_slurm.sh: registered cluster $CLUSTER with slurmdbd"
    fi
fi

# A controller started before accounting was configured keeps its old plugin until it restarts.
if running /run/slurmctld.pid slurmctld; then
    wanted=$(awk -F= '/^AccountingStorageType=/ {print $2}' /etc/slurm/slurm.conf)
    if ! scontrol show config 2>/dev/null | grep -q "^AccountingStorageType *= *$wanted"; then
        pid=$(cat /run/slurmctld.pid)
        kill "$pid"
        wait_for "slurmctld to stop" bash -c "! kill -0 $pid"
        echo "start_slurm.sh: stopped slurmctld to load AccountingStorageType=$wanted"
    fi
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
