#!/usr/bin/env bash
# Start a real single-node SLURM cluster on this host (for tests and CI).
#
# Idempotent: if the node already answers `sinfo` as idle/mixed/allocated,
# it does nothing and exits 0. Otherwise it
#   1. installs Debian's slurm-wlm + munge if slurmctld/slurmd/munged are missing,
#   2. writes a minimal /etc/slurm/slurm.conf for this one host
#      (real CPU count/memory from `slurmd -C`, accounting off,
#       MinJobAge=3600 so `squeue` still lists finished jobs),
#   3. starts munged, slurmctld and slurmd by hand (no systemd needed),
#   4. waits until `sinfo` shows the node idle.
# Exits non-zero with a clear message (and log tails) on any failure.
#
# Needs root. Env knobs:
#   SLURM_PARTITION  partition name (default: debug)
#   SLURM_WAIT       seconds to wait for the node to become idle (default: 60)
#   SLURM_FORCE_CONF=1  rewrite slurm.conf and restart the daemons even if up
set -euo pipefail

PARTITION="${SLURM_PARTITION:-debug}"
WAIT="${SLURM_WAIT:-60}"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
LOG_DIR=/var/log/slurm
STATE_DIR=/var/lib/slurm/slurmctld
SPOOL_DIR=/var/lib/slurm/slurmd
RUN_DIR=/run/slurm
NODE="$(hostname -s)"
T0=$SECONDS

say() { echo "[slurm/start] $*"; }
die() {
    echo "[slurm/start] ERROR: $*" >&2
    for f in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" /var/log/munge/munged.log; do
        if [ -s "$f" ]; then
            echo "---- last lines of $f ----" >&2
            tail -n 20 "$f" >&2
        fi
    done
    exit 1
}

node_state() {
    # prints e.g. "idle", "mix", "alloc", "down*", "unk*"; empty if no answer
    timeout 10 sinfo -h -n "$NODE" -o '%t' 2>/dev/null | head -n1 || true
}

running() { ps -C "$1" -o stat= 2>/dev/null | grep -qv '^Z'; }  # live, not zombie

cluster_up() {
    # cheap check first: sinfo takes ~10s to give up when no slurmctld runs
    running slurmctld && running slurmd || return 1
    case "$(node_state)" in
        idle | mix | alloc | comp) return 0 ;;
        *) return 1 ;;
    esac
}

# true if the pid file names a live process whose command is $2
# (a stale pid file from an earlier run may name an unrelated process)
pid_is() {
    local pid
    [ -s "$1" ] || return 1
    pid="$(cat "$1")"
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] \
        && [ "$(ps -p "$pid" -o stat= 2>/dev/null | cut -c1)" != Z ]
}

[ "$(id -u)" -eq 0 ] || die "must run as root (installs packages, starts daemons)"

if [ "${SLURM_FORCE_CONF:-0}" != 1 ] && command -v sinfo >/dev/null 2>&1 && cluster_up; then
    say "cluster already up: node $NODE is $(node_state); nothing to do"
    exit 0
fi

# ---------------------------------------------------------------- 1. install
command -v ps >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq procps >/dev/null 2>&1 \
    || die "ps missing and apt-get install procps failed"; }
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    command -v apt-get >/dev/null || die "slurm is not installed and apt-get is unavailable"
    say "installing slurm-wlm and munge with apt-get ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/tmp/slurm-apt.log 2>&1 \
        || { tail -n 20 /tmp/slurm-apt.log >&2; die "apt-get update failed"; }
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends slurm-wlm munge >>/tmp/slurm-apt.log 2>&1 \
        || { tail -n 20 /tmp/slurm-apt.log >&2; die "apt-get install slurm-wlm munge failed"; }
    say "installed ($((SECONDS - T0))s)"
fi

# ------------------------------------------------------------------ 2. munge
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
    say "creating munge key"
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile=/etc/munge/munge.key --force
    else
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
    fi
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key

if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "starting munged"
    pid_is /run/munge/munged.pid munged && kill "$(cat /run/munge/munged.pid)" 2>/dev/null
    sleep 0.2
    rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
    runuser -u munge -- /usr/sbin/munged || die "munged failed to start"
    for _ in $(seq 1 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge -n | unmunge >/dev/null 2>&1 || die "munge does not work (munge -n | unmunge failed)"
fi

# ------------------------------------------------------------- 3. slurm.conf
# Real hardware of this host, e.g. "CPUs=2 Boards=1 SocketsPerBoard=1 ... RealMemory=24152"
HW="$(slurmd -C 2>/dev/null | head -n1 | sed -e 's/^NodeName=[^ ]* //')"
case "$HW" in *CPUs=*RealMemory=*) ;; *) die "could not read hardware with 'slurmd -C' (got: '$HW')" ;; esac

mkdir -p "$CONF_DIR" "$LOG_DIR" "$STATE_DIR" "$SPOOL_DIR" "$RUN_DIR"
NEW_CONF="$(mktemp)"
cat >"$NEW_CONF" <<EOF
# Written by .ci/slurm/start.sh: single-node test cluster on host '$NODE'.
ClusterName=unmask
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
SwitchType=switch/none
# no cgroups (containers / gVisor): plain process tracking, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# accounting off: no slurmdbd, sacct/sacctmgr do not work -> use squeue
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# keep finished jobs visible in squeue for an hour
MinJobAge=3600
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
Waittime=0
NodeName=$NODE NodeAddr=127.0.0.1 $HW State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
if [ -f "$CONF" ] && cmp -s "$NEW_CONF" "$CONF"; then
    rm -f "$NEW_CONF"
else
    say "writing $CONF (node $NODE: $HW; partition $PARTITION)"
    mv "$NEW_CONF" "$CONF"
    chmod 0644 "$CONF"
fi

# ---------------------------------------------------------- 4. slurm daemons
stop_daemon() {
    local pidfile=$1 name=$2
    if pid_is "$pidfile" "$name"; then
        say "stopping $name (pid $(cat "$pidfile")) to restart it"
        kill "$(cat "$pidfile")" 2>/dev/null || true
        for _ in $(seq 1 50); do pid_is "$pidfile" "$name" || break; sleep 0.1; done
        pid_is "$pidfile" "$name" && die "$name (pid $(cat "$pidfile")) did not stop"
    fi
    rm -f "$pidfile"
}
# Daemons half up (or running an old config): restart both, clean.
stop_daemon "$RUN_DIR/slurmd.pid" slurmd
stop_daemon "$RUN_DIR/slurmctld.pid" slurmctld

say "starting slurmctld"
# -c: start with a clean state (no stale jobs from an earlier machine run)
slurmctld -c || die "slurmctld failed to start"
for _ in $(seq 1 100); do
    timeout 5 scontrol ping 2>/dev/null | grep -q 'is UP' && break
    sleep 0.2
done
timeout 5 scontrol ping 2>/dev/null | grep -q 'is UP' || die "slurmctld does not answer 'scontrol ping'"

say "starting slurmd"
slurmd -N "$NODE" || die "slurmd failed to start"

# ------------------------------------------------------------------- 5. wait
state=""
for i in $(seq 1 $((WAIT * 2))); do
    state="$(node_state)"
    case "$state" in
        idle | mix | alloc) break ;;
        down* | drain* | drng*)
            # e.g. "down" after an unexpected reboot: bring it back
            scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
done
case "$state" in
    idle | mix | alloc) ;;
    *) die "node $NODE not idle after ${WAIT}s (state: '${state:-no answer}'); see 'scontrol show node $NODE'" ;;
esac
say "cluster up in $((SECONDS - T0))s: partition '$PARTITION', node $NODE is $state"
sinfo
