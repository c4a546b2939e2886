#!/usr/bin/env bash
# Starts a single-node Slurm cluster for tests and trials: munged, slurmctld and slurmd from Debian's
# slurm-wlm and munge, on private ports, with all state under one directory (default: a new temp dir).
# Needs root (slurmd runs jobs as their users). Prints `export SLURM_CONF=...` for the shell; stop it with
# `deploy/slurm/local-cluster.sh stop DIR`.
#   deploy/slurm/local-cluster.sh start [DIR]
#   deploy/slurm/local-cluster.sh stop DIR
set -euo pipefail

cmd=${1:-start}
dir=${2:-}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop() {
    local d=$1
    for pidfile in "$d/slurmd.pid" "$d/slurmctld.pid" "$d/munged.pid"; do
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
}

if [ "$cmd" = stop ]; then
    [ -n "$dir" ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
    stop "$dir"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (slurmd)" >&2; exit 2; }
for tool in slurmctld slurmd munged sinfo; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$0: $tool missing: apt-get install -y slurm-wlm munge" >&2; exit 2; }
done
dir=${dir:-$(mktemp -d /tmp/dualrun-slurm.XXXXXX)}
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
chown munge:munge "$dir/munge"
host=$(hostname -s)
cpus=$(nproc)

# munge: its own socket under DIR, so a system munged (or none) does not matter.
[ -f /etc/munge/munge.key ] || { echo "$0: /etc/munge/munge.key missing (reinstall munge)" >&2; exit 2; }
runuser -u munge -- /usr/sbin/munged --socket "$dir/munge/munge.socket" --pid-file "$dir/munge/munged.pid" \
    --log-file "$dir/munge/munged.log" --seed-file "$dir/munge/munge.seed"
cp "$dir/munge/munged.pid" "$dir/munged.pid"

cat > "$dir/slurm.conf" <<CONF
ClusterName=dualrun
SlurmctldHost=$host
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$dir/slurm.conf
/usr/sbin/slurmctld -f "$SLURM_CONF"
/usr/sbin/slurmd -f "$SLURM_CONF"
for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        echo "export SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.5
done
echo "$0: the node did not come up; see $dir/slurmctld.log and $dir/slurmd.log" >&2
stop "$dir"
exit 1
