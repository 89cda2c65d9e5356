#!/usr/bin/env bash
# Install a single-node Slurm cluster (controller + compute node on this machine) for tests and CI.
#
# Usage (as root): bash scripts/install_slurm.sh
# Re-runnable: packages already present are kept; slurm.conf is rewritten only when its content changes.
#
# Choices (see docs/SLURM.md):
# - Accounting through slurmdbd + MariaDB on 127.0.0.1 (sacct; nemo-run and submitit read job states from it);
#   SLURM_ACCOUNTING=0 leaves it out (states then come from `squeue -t all` / `scontrol show job` only).
#   MinJobAge=3600 keeps finished jobs visible to squeue/scontrol for an hour either way.
#   scripts/start_slurm.sh starts MariaDB and slurmdbd and registers the cluster (`sacctmgr add cluster`).
# - cons_tres + CR_Core (CR_Core_Memory would make jobs wait for memory), batch_sched_delay=0,
#   kill_invalid_depend (a job whose dependency failed is cancelled instead of pending forever),
#   config_overrides to advertise SLURM_NODE_CPUS CPUs (default 8) whatever the machine has.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "install_slurm.sh: must run as root (it installs packages and writes /etc/slurm)" >&2
    exit 1
fi

NODE_CPUS=${SLURM_NODE_CPUS:-8}
ACCOUNTING=${SLURM_ACCOUNTING:-1}
NODE_NAME=$(hostname -s)
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf

need=()
packages=(slurmctld slurmd slurm-client munge)
((ACCOUNTING)) && packages+=(slurmdbd mariadb-server)
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "install_slurm.sh: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# munge needs a key readable only by the munge user.
if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none
fi
chown -R munge:munge /etc/munge
chmod 700 /etc/munge
chmod 400 /etc/munge/munge.key

mkdir -p "$CONF_DIR" /var/spool/slurmd /var/spool/slurmctld /var/log/slurm
if ((ACCOUNTING)); then
    accounting_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819"
    # slurmdbd refuses a config that others can read (it holds the database password); the database listens on
    # 127.0.0.1 only and the password never leaves this machine.
    dbd_conf=$(cat <<DBD
# Written by scripts/install_slurm.sh: accounting for the single-node cluster (MariaDB on 127.0.0.1).
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=slurm
StoragePass=nemo-pipeline-slurmdbd
StorageLoc=slurm_acct_db
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
DBD
    )
    if [[ ! -f $CONF_DIR/slurmdbd.conf ]] || [[ "$(cat "$CONF_DIR/slurmdbd.conf")" != "$dbd_conf" ]]; then
        printf '%s\n' "$dbd_conf" >"$CONF_DIR/slurmdbd.conf"
        echo "install_slurm.sh: wrote $CONF_DIR/slurmdbd.conf"
    fi
    chmod 600 "$CONF_DIR/slurmdbd.conf"
else
    accounting_lines="AccountingStorageType=accounting_storage/none"
fi

REAL_MEMORY=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)

new_conf=$(cat <<CONF
# Written by scripts/install_slurm.sh: a single-node cluster for tests and CI.
ClusterName=nemo-pipeline
SlurmctldHost=$NODE_NAME(127.0.0.1)
AuthType=auth/munge
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0
DependencyParameters=kill_invalid_depend
SlurmdParameters=config_overrides
MinJobAge=3600
KillWait=5
$accounting_lines
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$NODE_NAME NodeAddr=127.0.0.1 CPUs=$NODE_CPUS RealMemory=$REAL_MEMORY State=UNKNOWN
PartitionName=debug Nodes=$NODE_NAME Default=YES MaxTime=INFINITE State=UP
CONF
)

if [[ ! -f $CONF ]] || [[ "$(cat "$CONF")" != "$new_conf" ]]; then
    printf '%s\n' "$new_conf" >"$CONF"
    echo "install_slurm.sh: wrote $CONF (node $NODE_NAME, $NODE_CPUS CPUs advertised)"
    if scontrol ping >/dev/null 2>&1; then
        scontrol reconfigure && echo "install_slurm.sh: running controller reconfigured"
    fi
else
    echo "install_slurm.sh: $CONF is up to date"
fi
chmod 644 "$CONF"
