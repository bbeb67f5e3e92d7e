#!/usr/bin/env bash
# Stop the single-node SLURM cluster started by .ci/slurm/start.sh.
# Stops only the daemons named in their pid files; leaves packages and config.
set -uo pipefail

stop_pidfile() {
    local name=$1 pidfile=$2 pid
    [ -s "$pidfile" ] || { echo "[slurm/stop] $name: not running (no $pidfile)"; return 0; }
    pid="$(cat "$pidfile")"
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
        kill "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
            echo "[slurm/stop] $name (pid $pid) did not stop after 5s" >&2
            return 1
        fi
        echo "[slurm/stop] $name (pid $pid) stopped"
    else
        echo "[slurm/stop] $name: not running (stale pid file)"
    fi
    rm -f "$pidfile"
}

rc=0
stop_pidfile slurmd /run/slurm/slurmd.pid || rc=1
stop_pidfile slurmctld /run/slurm/slurmctld.pid || rc=1
if [ "${1:-}" = "--all" ]; then
    stop_pidfile munged /run/munge/munged.pid || rc=1
fi
exit $rc
