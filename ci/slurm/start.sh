#!/usr/bin/env bash
# Start a throwaway single-node SLURM cluster on this machine, for stage's SLURM
# executor tests and CI.
#
#   ci/slurm/start.sh [DIR]          DIR defaults to ${STAGE_SLURM_DIR:-/tmp/stage-slurm}
#   eval "$(ci/slurm/start.sh)"      stdout carries only `export NAME=value` lines
#   . "$STAGE_SLURM_DIR/env.sh"      the same lines, kept in a file for later shells
#
# Safe to run again at any time: packages are installed only when missing, the
# configuration is rewritten only when it differs (and only then are daemons restarted),
# and daemons that already run from DIR are left alone. It returns once the node is
# schedulable AND a trivial `sbatch --wrap` job has completed, so the caller can submit
# real work straight away.
#
# Needs root (slurmd starts jobs as their owner; mknod; apt-get) and a Debian-like system.
# Everything the cluster owns lives under DIR: configs, munge key and socket, pid files,
# state, logs. The system's /etc/slurm and /etc/munge are not touched.
#
# Optional environment:
#   STAGE_SLURM_CPUS          CPUs the node advertises (default: what slurmd detects).
#                             More than the machine has is allowed and makes many tiny
#                             test jobs run side by side.
#   STAGE_SLURM_MEMORY_MB     RealMemory of the node (default: detected)
#   STAGE_SLURM_GPUS          fake GPUs offered as gres "gpu" (default 2; 0 = none)
#   STAGE_SLURM_CTLD_PORT     slurmctld port (default 6817)
#   STAGE_SLURM_SLURMD_PORT   slurmd port (default 6818)
#   STAGE_SLURM_MIN_JOB_AGE   seconds a finished job stays visible to scontrol (default 300)
#   STAGE_SLURM_TIMEOUT       seconds allowed for each readiness wait (default 120)
#   STAGE_SLURM_PACKAGES      packages to install when a binary is missing
#                             (default: "slurmctld slurmd slurm-client munge", the parts of
#                             slurm-wlm that a one-node cluster needs)
set -euo pipefail

say() { printf '[stage-slurm start] %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
# Seconds (with decimals) elapsed since a $EPOCHREALTIME value; bash 5 has no float maths.
elapsed() { local a=${1/./} b=${EPOCHREALTIME/./}; local d=$(( (b - a) / 1000 )); printf '%d.%03d' $((d / 1000)) $((d % 1000)); }

[ "$(id -u)" = 0 ] || die "run as root: the daemons, mknod and apt-get need it"

DIR="${1:-${STAGE_SLURM_DIR:-/tmp/stage-slurm}}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd -P)"
# slurm.conf has no quoting, so a path with blanks cannot be written into it.
case "$DIR" in *[[:space:]]*) die "DIR must not contain whitespace: '$DIR'" ;; esac
TIMEOUT="${STAGE_SLURM_TIMEOUT:-120}"
GPUS="${STAGE_SLURM_GPUS:-2}"
CTLD_PORT="${STAGE_SLURM_CTLD_PORT:-6817}"
SLURMD_PORT="${STAGE_SLURM_SLURMD_PORT:-6818}"
MIN_JOB_AGE="${STAGE_SLURM_MIN_JOB_AGE:-300}"
PARTITION=debug
START_TIME=$EPOCHREALTIME

# One start at a time per DIR: two CI steps racing would otherwise both launch daemons.
# Daemons are started with 9>&- so they do not inherit (and keep holding) this lock.
exec 9>"$DIR/.start.lock"
flock -w "$TIMEOUT" 9 || die "another start.sh holds $DIR/.start.lock"

# ------------------------------------------------------------------ packages
missing=""
for bin in slurmctld slurmd sbatch scontrol squeue sinfo scancel sacct munged munge unmunge; do
  command -v "$bin" >/dev/null 2>&1 || missing="$missing $bin"
done
if [ -n "$missing" ]; then
  read -r -a pkgs <<<"${STAGE_SLURM_PACKAGES:-slurmctld slurmd slurm-client munge}"
  say "missing:$missing -> apt-get install ${pkgs[*]}"
  # Without systemd the packages' init scripts would try to launch system-wide daemons
  # (and fail: there is no /etc/slurm/slurm.conf). A policy-rc.d that answers 101 makes
  # invoke-rc.d skip them; install one only for the duration, and only if none exists.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt_ok=1
  apt-get update -qq >&2 || apt_ok=0
  if [ "$apt_ok" = 1 ]; then
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2 || apt_ok=0
  fi
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$apt_ok" = 1 ] || die "apt-get could not install ${pkgs[*]}"
  say "installed: $(slurmctld -V)"
fi

# ------------------------------------------------------------------ layout
mkdir -p "$DIR/etc" "$DIR/run" "$DIR/log" "$DIR/state/ctld" "$DIR/spool/slurmd" "$DIR/dev"
chmod 755 "$DIR" "$DIR/run"
chmod 700 "$DIR/etc"
# stop.sh --purge deletes DIR only when this marker says the directory is ours.
: >"$DIR/.stage-slurm"

# live_pid: the pid of one of our live daemons (see common.sh).
# shellcheck source=ci/slurm/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Polls a command until it succeeds or the deadline passes; the sleep is only the
# polling interval, the condition itself is what we wait for.
poll() { # command...
  local until=$((SECONDS + TIMEOUT))
  while ! "$@"; do
    [ "$SECONDS" -lt "$until" ] || return 1
    sleep 0.2
  done
}

# ------------------------------------------------------------------ hardware
NODE="$(hostname -s)"
# e.g. "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24152"
HW="$(slurmd -C 2>/dev/null | head -n 1)"
hw() { sed -n "s/.* $1=\([0-9][0-9]*\).*/\1/p" <<<"$HW"; }
REAL_CPUS="$(hw CPUs)"
CPUS="${STAGE_SLURM_CPUS:-$REAL_CPUS}"
MEMORY="${STAGE_SLURM_MEMORY_MB:-$(hw RealMemory)}"
[ -n "$CPUS" ] && [ -n "$MEMORY" ] || die "cannot read CPUs/RealMemory from 'slurmd -C': $HW"
if [ "$CPUS" = "$REAL_CPUS" ]; then
  TOPOLOGY="Boards=$(hw Boards) SocketsPerBoard=$(hw SocketsPerBoard) CoresPerSocket=$(hw CoresPerSocket) ThreadsPerCore=$(hw ThreadsPerCore)"
else
  TOPOLOGY="Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1"
fi

# ------------------------------------------------------------------ munge key, fake GPUs
if [ ! -s "$DIR/etc/munge.key" ]; then
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile="$DIR/etc/munge.key" >&2
  else
    head -c 1024 /dev/urandom >"$DIR/etc/munge.key"
  fi
  chmod 600 "$DIR/etc/munge.key"
fi

GRES_TYPES=""; NODE_GRES=""; GRES_LINE=""
if [ "$GPUS" -gt 0 ]; then
  # slurmd drops a gpu gres that has no File=, and complains about regular files, so each
  # fake GPU is a character device with /dev/null's numbers (harmless to open).
  for ((i = 0; i < GPUS; i++)); do
    dev="$DIR/dev/gpu$i"
    if [ ! -c "$dev" ]; then
      rm -f "$dev"
      mknod -m 666 "$dev" c 1 3 2>/dev/null || : >"$dev"
    fi
  done
  GRES_TYPES="GresTypes=gpu"
  NODE_GRES=" Gres=gpu:$GPUS"
  if [ "$GPUS" = 1 ]; then GRES_LINE="NodeName=$NODE Name=gpu File=$DIR/dev/gpu0"
  else GRES_LINE="NodeName=$NODE Name=gpu File=$DIR/dev/gpu[0-$((GPUS - 1))]"; fi
fi

# ------------------------------------------------------------------ configuration
NEW_CONF="$(mktemp)"; NEW_GRES="$(mktemp)"
trap 'rm -f "$NEW_CONF" "$NEW_GRES"' EXIT
cat >"$NEW_CONF" <<CONF
# Written by stage's ci/slurm/start.sh for a one-node test cluster. Rewritten on every start.
ClusterName=stage
# "localhost" is accepted as the controller whatever the machine's hostname is.
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
# A private munged, so the system's munge (if any) is neither needed nor disturbed.
AuthInfo=socket=$DIR/run/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$DIR/state/ctld
SlurmdSpoolDir=$DIR/spool/slurmd
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: works in containers whose cgroup tree is read-only. --mem is then checked
# at submission but not enforced, so OUT_OF_MEMORY cannot happen here.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd: plain sacct reports "accounting storage is disabled". 'sacct -c' reads
# this job-completion log instead.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Schedule as soon as possible instead of batching submissions (default delay is 3 s).
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# A job whose dependency can never be met is cancelled rather than left pending forever.
DependencyParameters=kill_invalid_depend
# Refuse at submission what this node can never run, instead of pending forever.
EnforcePartLimits=ALL
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=$MIN_JOB_AGE
KillWait=5
InactiveLimit=0
SlurmdTimeout=300
# Trust the CPU count below even when it exceeds the hardware.
SlurmdParameters=config_overrides
$GRES_TYPES
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS $TOPOLOGY RealMemory=$MEMORY$NODE_GRES State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
{
  echo "# Written by stage's ci/slurm/start.sh."
  echo "AutoDetect=off"
  [ -z "$GRES_LINE" ] || echo "$GRES_LINE"
} >"$NEW_GRES"

changed=0
if ! cmp -s "$NEW_CONF" "$DIR/etc/slurm.conf"; then cp "$NEW_CONF" "$DIR/etc/slurm.conf"; changed=1; fi
if ! cmp -s "$NEW_GRES" "$DIR/etc/gres.conf"; then cp "$NEW_GRES" "$DIR/etc/gres.conf"; changed=1; fi
chmod 644 "$DIR/etc/slurm.conf" "$DIR/etc/gres.conf"
export SLURM_CONF="$DIR/etc/slurm.conf"

# Sends SIGTERM and waits (bounded) for the process to go; SIGKILL as a last resort.
terminate() { # pid
  kill "$1" 2>/dev/null || return 0
  local until=$((SECONDS + 20))
  while [ -d "/proc/$1" ] && [ "$SECONDS" -lt "$until" ]; do sleep 0.1; done
  [ ! -d "/proc/$1" ] || kill -9 "$1" 2>/dev/null || true
}
if [ "$changed" = 1 ]; then
  for d in slurmd slurmctld; do
    if pid="$(live_pid "$DIR/run/$d.pid" "$d")"; then
      say "configuration changed: restarting $d (pid $pid)"
      terminate "$pid"
    fi
  done
fi

# ------------------------------------------------------------------ daemons
munge_ok() { munge -S "$DIR/run/munge.sock" -n </dev/null 2>/dev/null | unmunge -S "$DIR/run/munge.sock" >/dev/null 2>&1; }
if pid="$(live_pid "$DIR/run/munged.pid" munged)"; then
  say "munged already running (pid $pid)"
else
  rm -f "$DIR/run/munge.sock" "$DIR/run/munge.sock.lock" "$DIR/run/munged.pid"
  munged --socket="$DIR/run/munge.sock" --pid-file="$DIR/run/munged.pid" \
    --key-file="$DIR/etc/munge.key" --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/state/munged.seed" --num-threads=4 9>&- \
    || die "munged did not start; see $DIR/log/munged.log"
fi
poll munge_ok || die "munge round trip fails; see $DIR/log/munged.log"

ctld_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
if pid="$(live_pid "$DIR/run/slurmctld.pid" slurmctld)"; then
  say "slurmctld already running (pid $pid)"
else
  rm -f "$DIR/run/slurmctld.pid"
  slurmctld -f "$SLURM_CONF" 9>&- || die "slurmctld did not start; see $DIR/log/slurmctld.log"
fi
poll ctld_up || die "slurmctld does not answer 'scontrol ping'; see $DIR/log/slurmctld.log"

if pid="$(live_pid "$DIR/run/slurmd.pid" slurmd)"; then
  say "slurmd already running (pid $pid)"
else
  rm -f "$DIR/run/slurmd.pid"
  slurmd -f "$SLURM_CONF" -N "$NODE" 9>&- || die "slurmd did not start; see $DIR/log/slurmd.log"
fi

# The node must become schedulable. A node left DRAIN/DOWN by an earlier run (slurmd
# killed, gres changed) stays that way until resumed, so resume it once.
resumed=0
node_ready() {
  local state
  state="$(sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -n 1)"
  case "$state" in
    idle | mixed | allocated | completing) return 0 ;;
    drain* | down* | inval* | fail*)
      if [ "$resumed" = 0 ] && live_pid "$DIR/run/slurmd.pid" slurmd >/dev/null; then
        say "node is '$state' ($(sinfo -h -n "$NODE" -o '%E')): resuming it"
        scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
        resumed=1
      fi ;;
  esac
  return 1
}
poll node_ready \
  || die "node $NODE is not schedulable: $(sinfo -h -n "$NODE" -o '%T %E' 2>&1); see $DIR/log/slurmd.log"

# ------------------------------------------------------------------ probe job
# A node that looks idle can still fail to launch jobs (munge, spool, gres); only a
# finished job proves the whole path. The first job after slurmctld starts waits for
# its first scheduling pass (a few seconds); later ones finish in under a second.
probe_start=$EPOCHREALTIME
probe="$(sbatch --parsable --job-name=stage-slurm-probe --output=/dev/null --wrap true)" \
  || die "sbatch rejected the probe job"
probe="${probe%%;*}"
probe_state=""
probe_done() {
  probe_state="$(scontrol -o show job "$probe" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n 1 || true)"
  probe_state="${probe_state#JobState=}"
  case "$probe_state" in PENDING | CONFIGURING | RUNNING | COMPLETING | "") return 1 ;; esac
}
poll probe_done || die "probe job $probe still '$probe_state' after ${TIMEOUT}s"
say "probe job $probe ended $probe_state after $(elapsed "$probe_start") s"
[ "$probe_state" = COMPLETED ] || die "probe job $probe ended $probe_state; see $DIR/log/slurmd.log"

# ------------------------------------------------------------------ environment
cat >"$DIR/env.sh.tmp" <<ENV
export SLURM_CONF=$SLURM_CONF
export STAGE_SLURM_DIR=$DIR
export STAGE_SLURM_NODE=$NODE
export STAGE_SLURM_PARTITION=$PARTITION
export STAGE_SLURM_GPUS=$GPUS
ENV
mv -f "$DIR/env.sh.tmp" "$DIR/env.sh"
say "ready in $(elapsed "$START_TIME") s: $(sinfo -h -N -o '%N %T cpus=%c mem=%mMB gres=%G partition=%P')"
cat "$DIR/env.sh"
