# Shared by the fake SLURM commands in bin/. A stand-in for a cluster, for the faults a real
# one will not produce on demand (NODE_FAIL, preemption with requeue, a flaky controller).
# Jobs run right here, in the background; their state lives in files under $FAKE_SLURM_DIR:
#
#   calls.log                  one line per command run: "<command> <args...>"
#   next-id, submissions       counters
#   jobs/<A>/meta              name, output pattern, script, working directory, array (0/1)
#   jobs/<A>/tasks/<t>/        one task ("solo" for a job that is not an array):
#       jobid state reason exit restarts pgid preempt
#
# What a test controls (files it writes in $FAKE_SLURM_DIR):
#   sbatch-transient   N: the next N sbatch calls fail with "Socket timed out"
#   scontrol-empty     N: the next N scontrol calls print nothing (and succeed)
#   fate.<n>           for the n-th successful submission, lines "<task index|*> <FATE>":
#                        NODE_FAIL     the task never runs and ends NODE_FAIL
#                        PREEMPT:<k>   the task shows PREEMPTED to the next k scontrol calls,
#                                      then is requeued (PENDING, Restarts=1) and runs
#
# Array throttles (%N) are ignored: every task starts at once.

D="${FAKE_SLURM_DIR:?FAKE_SLURM_DIR must name the state directory of the fake cluster}"
mkdir -p "$D/jobs"

# Runs the rest of the line under the fake cluster's lock.
locked() {
  (
    flock 8
    "$@"
  ) 8>"$D/lock"
}

# Short appends are atomic, so concurrent commands never tear each other's lines.
log_call() { printf '%s\n' "$*" >>"$D/calls.log"; }

# Writes a file so readers never see it half written.
put() { # file value
  printf '%s\n' "$2" >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}

get() { # file [default]
  if [ -s "$1" ]; then head -n 1 "$1"; else printf '%s\n' "${2:-}"; fi
}

# Decrements the counter in a file; succeeds (and prints the old value) only if it was above 0.
take_one() { # file
  local n
  n="$(get "$1" 0)"
  [ "$n" -gt 0 ] 2>/dev/null || return 1
  put "$1" "$((n - 1))"
  echo "$n"
}

# Expands "0-2,5%2" into "0 1 2 5".
expand_array() { # spec
  local spec="${1%%%*}" part a b i out=()
  IFS=',' read -r -a parts <<<"$spec"
  for part in "${parts[@]}"; do
    if [[ $part == *-* ]]; then
      a="${part%-*}"; b="${part#*-}"
      for ((i = a; i <= b; i++)); do out+=("$i"); done
    else
      out+=("$part")
    fi
  done
  echo "${out[*]}"
}

# Starts one task in its own session, detached from the caller's stdio and from the lock (a
# task that inherited the lock's descriptor would hold it until it ends).
start_task() { # A t
  local A="$1" t="$2" job="$D/jobs/$1" dir="$D/jobs/$1/tasks/$2"
  local script out chdir name jid
  script="$(sed -n 's/^script=//p' "$job/meta")"
  out="$(sed -n 's/^output=//p' "$job/meta")"
  chdir="$(sed -n 's/^chdir=//p' "$job/meta")"
  name="$(sed -n 's/^name=//p' "$job/meta")"
  jid="$(get "$dir/jobid")"
  out="${out//%A/$A}"; out="${out//%a/$t}"; out="${out//%j/$jid}"; out="${out//%x/$name}"
  setsid bash -c '
    dir=$1; A=$2; t=$3; jid=$4; script=$5; out=$6; chdir=$7; lock=$8
    printf "RUNNING\n" >"$dir/state"; printf "None\n" >"$dir/reason"
    cd "$chdir" || exit 1
    if [ "$t" = solo ]; then
      env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_JOB_ID SLURM_JOB_ID="$jid" bash "$script" >>"$out" 2>&1
    else
      SLURM_JOB_ID="$jid" SLURM_ARRAY_JOB_ID="$A" SLURM_ARRAY_TASK_ID="$t" bash "$script" >>"$out" 2>&1
    fi
    rc=$?
    (
      flock 8
      if [ "$(head -n 1 "$dir/state")" != CANCELLED ]; then
        if [ "$rc" = 0 ]; then printf "0:0\n" >"$dir/exit"; printf "COMPLETED\n" >"$dir/state"
        elif [ "$rc" -gt 128 ]; then printf "0:%s\n" "$((rc - 128))" >"$dir/exit"; printf "FAILED\n" >"$dir/state"
        else printf "%s:0\n" "$rc" >"$dir/exit"; printf "FAILED\n" >"$dir/state"; printf "NonZeroExitCode\n" >"$dir/reason"
        fi
      fi
    ) 8>"$lock"
  ' fake-task "$dir" "$A" "$t" "$jid" "$script" "$out" "$chdir" "$D/lock" </dev/null >/dev/null 2>&1 8>&- &
  put "$dir/pgid" "$!"
}

# Prints the task directories of a job id as scontrol/scancel name it: "A" (all tasks) or "A_t".
task_dirs() { # id
  local A="${1%%_*}" t
  [ -d "$D/jobs/$A" ] || return 1
  if [[ $1 == *_* ]]; then
    t="${1#*_}"
    [ -d "$D/jobs/$A/tasks/$t" ] || return 1
    echo "$D/jobs/$A/tasks/$t"
  else
    find "$D/jobs/$A/tasks" -mindepth 1 -maxdepth 1 -type d | sort -t/ -k1,1 -V
  fi
}
