#!/usr/bin/env bash
# A throw-away single-node SLURM cluster on this machine, for testing the workflow's
# `workflow/profiles/slurm` profile (tests/test_slurm.py). Run as root on Debian/Ubuntu.
#
#   .ci/slurm_cluster.sh start    install slurm-wlm + munge if absent, write /etc/slurm/slurm.conf,
#                                 start munged, slurmctld and slurmd, wait until the node is idle
#   .ci/slurm_cluster.sh status   show the daemons this script started and `sinfo`
#   .ci/slurm_cluster.sh stop     kill exactly the daemons `start` started (by their recorded PIDs)
#
# No accounting database: jobs are followed with `squeue`, so MinJobAge stays high (see below).
# The config must live at /etc/slurm/slurm.conf: the plugin's job step clears every SLURM_*
# variable (SLURM_CONF included) before calling `srun`.
set -euo pipefail

# The daemons run as root (and apt-get needs it): go through sudo when started as a user.
if [[ $EUID -ne 0 ]]; then exec sudo --preserve-env=SLURM_CI_STATE "$0" "$@"; fi

STATE=${SLURM_CI_STATE:-/tmp/ci-slurm}   # PIDs, logs and spool directories of this cluster
CONF=/etc/slurm/slurm.conf
MARKER="# written by .ci/slurm_cluster.sh"  # we only ever overwrite/remove a config we wrote
MUNGE_SOCKET_DIR=/run/munge

log() { echo "slurm_cluster: $*" >&2; }

# Is a daemon we recorded (pid file $1) still alive?
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Run "$@" detached in its own session, its output in $STATE/$name.out; record its PID.
launch() {
    local name=$1
    shift
    setsid "$@" >"$STATE/$name.out" 2>&1 </dev/null &
    echo $! >"$STATE/$name.pid"
}

# Wait up to $1 seconds for the command "${@:2}" to succeed.
wait_for() {
    local timeout=$1
    shift
    for ((i = 0; i < timeout * 4; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    return 1
}

node_idle() { sinfo --noheader --Node --format=%T 2>/dev/null | grep -qx idle; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
        command -v sbatch >/dev/null && command -v munged >/dev/null; then
        return
    fi
    log "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

start_munge() {
    # An already working munged (e.g. the system's) is reused and left alone.
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        log "munged already running; reusing it"
        return
    fi
    # Debian's postinst creates the key; create one if it is missing.
    [[ -s /etc/munge/munge.key ]] || mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
    # The socket directory must be world-executable, or clients (slurm) cannot reach it.
    install -d -o munge -g munge -m 0755 "$MUNGE_SOCKET_DIR"
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    # munged refuses to run as root; setpriv execs it as `munge`, so $! is munged itself.
    launch munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground
    wait_for 10 bash -c 'munge -n | unmunge' || {
        log "munged did not start:"
        cat "$STATE/munged.out" >&2
        exit 1
    }
}

write_config() {
    if [[ -e $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
        log "$CONF exists and was not written by this script; refusing to overwrite it"
        exit 1
    fi
    local host node
    host=$(hostname -s)
    # slurmd -C prints this machine's node line: NodeName, CPUs, sockets/cores/threads, RealMemory.
    node=$(slurmd -C | head -n 1)
    local cpus mem
    cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node")
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    mkdir -p /etc/slurm "$STATE/spool/ctld" "$STATE/spool/d"
    cat >"$CONF" <<EOF
$MARKER; removed by \`.ci/slurm_cluster.sh stop\`
ClusterName=ci
SlurmctldHost=$host(127.0.0.1)
# Daemons run as root; no cgroups: plain /proc process tracking, no task binding.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
# Schedule cores and memory separately, so several small jobs share the node; a job without a
# memory request gets DefMemPerCPU per CPU instead of the whole node.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((mem / cpus / 2))
# Start batch jobs as soon as they are submitted.
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
# Keep finished jobs visible to squeue for an hour: the executor plugin polls squeue (no sacct
# database here) and falls back to sacct unless MinJobAge >= 3 x its initial status-check delay;
# tests/test_slurm.py also lists a whole run's jobs with squeue afterwards.
MinJobAge=3600
ReturnToService=2
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/slurmctld.daemon.pid
SlurmdPidFile=$STATE/slurmd.daemon.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    log "wrote $CONF for node $host ($cpus CPUs, $mem MB)"
}

start() {
    mkdir -p "$STATE"
    if alive "$STATE/slurmctld.pid" || alive "$STATE/slurmd.pid"; then
        log "already started (see $0 status)"
        return
    fi
    local t0=$SECONDS
    install_packages
    rm -rf "$STATE/spool"   # fresh scheduler state: no jobs left over from an earlier run
    write_config
    start_munge
    # -D: stay in the foreground, so the recorded PID is the daemon's; -i: ignore old state.
    launch slurmctld /usr/sbin/slurmctld -D -i
    wait_for 20 scontrol ping || {
        log "slurmctld did not start:"
        tail -n 20 "$STATE/slurmctld.log" "$STATE/slurmctld.out" >&2 || true
        exit 1
    }
    launch slurmd /usr/sbin/slurmd -D
    wait_for 30 node_idle || {
        log "node not idle:"
        sinfo -N -l >&2 || true
        tail -n 20 "$STATE/slurmd.log" "$STATE/slurmd.out" >&2 || true
        exit 1
    }
    log "cluster up in $((SECONDS - t0)) s"
    sinfo
}

stop() {
    # Stop in reverse order; only PIDs this script recorded, each checked to be alive first.
    for name in slurmd slurmctld munged; do
        local pidfile=$STATE/$name.pid
        if alive "$pidfile"; then
            local pid
            pid=$(cat "$pidfile")
            kill "$pid"
            for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
            log "stopped $name (pid $pid)"
        fi
        rm -f "$pidfile"
    done
    if [[ -e $CONF ]] && grep -qF "$MARKER" "$CONF"; then rm -f "$CONF"; fi
}

status() {
    for name in munged slurmctld slurmd; do
        if alive "$STATE/$name.pid"; then echo "$name: running (pid $(cat "$STATE/$name.pid"))"
        else echo "$name: not started by this script"; fi
    done
    sinfo || true
}

case ${1:-} in
start) start ;;
stop) stop ;;
status) status ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
