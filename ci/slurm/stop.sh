#!/usr/bin/env bash
# Stop the test cluster that ci/slurm/start.sh runs from DIR.
#
#   ci/slurm/stop.sh [--purge] [DIR]   DIR defaults to ${STAGE_SLURM_DIR:-/tmp/stage-slurm}
#     --purge   also delete DIR afterwards (only if start.sh created it), which resets
#               job ids to 1 and forgets every job
#
# Idempotent: with nothing running it just returns 0. Only the daemons named in
# DIR/run/*.pid are signalled, and only after checking that each pid is alive, runs the
# expected binary and was started with DIR on its command line, so a second cluster or a
# system-wide munged on the same machine is never touched. Jobs still queued or running
# are cancelled first: their slurmstepd processes would otherwise outlive slurmd.
set -uo pipefail

say() { printf '[stage-slurm stop] %s\n' "$*" >&2; }

PURGE=0
DIR=""
for arg in "$@"; do
  case "$arg" in
    --purge) PURGE=1 ;;
    -*) say "unknown option $arg"; exit 2 ;;
    *) DIR="$arg" ;;
  esac
done
DIR="${DIR:-${STAGE_SLURM_DIR:-/tmp/stage-slurm}}"
if [ ! -d "$DIR" ]; then
  say "$DIR does not exist: nothing to stop"
  exit 0
fi
DIR="$(cd "$DIR" && pwd -P)"
export SLURM_CONF="$DIR/etc/slurm.conf"

# shellcheck source=ci/slurm/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# ------------------------------------------------------------------ 1. jobs
if live_pid "$DIR/run/slurmctld.pid" slurmctld >/dev/null && [ -f "$SLURM_CONF" ]; then
  jobs="$(squeue -h -t pending,running,suspended,completing,configuring -o '%A' 2>/dev/null | sort -u | tr '\n' ' ')"
  if [ -n "${jobs// /}" ]; then
    say "cancelling jobs: $jobs"
    # shellcheck disable=SC2086 # one id per word, on purpose
    scancel $jobs 2>/dev/null || true
    # KillWait is 5 s in our config; allow for it plus epilogues.
    until=$((SECONDS + 30))
    while [ -n "$(squeue -h -t running,completing,configuring 2>/dev/null)" ] && [ "$SECONDS" -lt "$until" ]; do
      sleep 0.2
    done
  fi
fi

# ------------------------------------------------------------------ 2. daemons
# Each daemon takes about two seconds to exit after SIGTERM, so a group is signalled at
# once and then awaited. slurmd and slurmctld go first; munged last, since both of them
# authenticate through it while shutting down.
stop_daemons() { # name...
  local name pid pids=() names=()
  for name in "$@"; do
    if pid="$(live_pid "$DIR/run/$name.pid" "$name")"; then
      kill "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$name")
    elif [ -e "$DIR/run/$name.pid" ]; then
      say "$name: pid file is stale (process gone or not ours); removing it"
    fi
  done
  local i until=$((SECONDS + 20))
  for i in "${!pids[@]}"; do
    while [ -d "/proc/${pids[$i]}" ] && [ "$SECONDS" -lt "$until" ]; do sleep 0.1; done
    if [ -d "/proc/${pids[$i]}" ]; then
      say "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM for 20 s: SIGKILL"
      kill -9 "${pids[$i]}" 2>/dev/null || true
    else
      say "stopped ${names[$i]} (pid ${pids[$i]})"
    fi
  done
  for name in "$@"; do rm -f "$DIR/run/$name.pid"; done
}
stop_daemons slurmd slurmctld
stop_daemons munged
rm -f "$DIR/run/munge.sock" "$DIR/run/munge.sock.lock"

# ------------------------------------------------------------------ 3. leftovers
# After step 1 no job step should survive; say so loudly if one does, but do not kill
# what we cannot prove is ours.
for proc in /proc/[0-9]*; do
  [ "$(cat "$proc/comm" 2>/dev/null)" = slurmstepd ] || continue
  if tr '\0' '\n' <"$proc/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$SLURM_CONF"; then
    say "WARNING: slurmstepd (pid ${proc#/proc/}) of this cluster is still running"
  fi
done

if [ "$PURGE" = 1 ]; then
  if [ -e "$DIR/.stage-slurm" ]; then
    rm -rf "$DIR"
    say "purged $DIR"
  else
    say "not purging $DIR: it was not created by start.sh"
  fi
fi
exit 0
