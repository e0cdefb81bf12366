#!/usr/bin/env bash
# SLURM submission benchmark on the local test cluster (ci/slurm): one target of N shards built
# by `stage build` (the driver submits ONE job array) against N separate `sbatch` jobs doing the
# same work (each runs `stage exec <target> --shard i`, as an array task does).
#
# Reported per variant: sbatch calls, submission time (wall time of the sbatch call(s)), time
# from the first submission until every task has finished, tasks per second, and the RPCs the
# controller served meanwhile (from sdiag). The table is printed and written to
# bench/slurm/results.md.
#
# Environment: SHARDS (500), KEEP_WORK=1 keeps the work directory, REBUILD=1 runs `npm run build`.
# Not a test: it takes several minutes on a two-core machine, where SLURM starts about one task
# per CPU per second whatever the submission style.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STAGE="$REPO/bin/stage.js"
SHARDS=${SHARDS:-500}
NAME_B="stage-bench-separate-$$"

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
now() { printf '%s\n' "$EPOCHREALTIME"; }
# Seconds between two $EPOCHREALTIME values, with millisecond precision.
since() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.3f", b - a }'; }

# --- cluster and build ---------------------------------------------------------------------
say "starting (or reusing) the local cluster"
bash "$REPO/ci/slurm/start.sh" >/dev/null
# shellcheck disable=SC1091
. "${STAGE_SLURM_DIR:-/tmp/stage-slurm}/env.sh"
if [[ ! -f "$REPO/lib/cli.js" || "${REBUILD:-0}" == 1 ]]; then
  say "building stage (npm run build)"
  (cd "$REPO" && npm run build >/dev/null)
fi
[[ -z "$(squeue -h -t pending,running 2>/dev/null)" ]] || say "warning: the cluster already has jobs queued; timings will include them"
CPUS=$(sinfo -h -N -o '%c' | head -n 1)

WORK=$(mktemp -d /tmp/stage-slurm-bench.XXXXXX)
cleanup() {
  scancel --name="$NAME_B" 2>/dev/null || true
  if [[ "${KEEP_WORK:-0}" == 1 ]]; then say "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

WS="$WORK/ws"
mkdir -p "$WS" "$WORK/bin" "$WORK/logs-separate"
cat >"$WS/Stagefile.ts" <<EOF
import {writeFileSync} from 'node:fs';
import {rule, target} from 'stage';

// The trivial work: each shard writes one line naming itself.
const touch = rule('touch', ({shard, out}) => writeFileSync(out, JSON.stringify({shard: shard?.index ?? 0}) + '\n'));

target('bench', {out: 'out/bench.jsonl', run: touch, shards: $SHARDS, executor: 'slurm', slurm: {time: '10', mem: '100M'}});
EOF
# Polling once a second keeps the driver's reaction time small next to the run itself.
echo '{"slurm": {"pollMs": 1000, "maxPollMs": 2000, "markerGraceMs": 10000}}' >"$WORK/config.json"
export STAGE_CONFIG="$WORK/config.json" STAGE_CACHE_DIR="$WORK/cache"

# sbatch, timed: each call appends "<start> <end>" to $WORK/sbatch-times.
REAL_SBATCH=$(command -v sbatch)
cat >"$WORK/bin/sbatch" <<EOF
#!/usr/bin/env bash
start=\$EPOCHREALTIME
"$REAL_SBATCH" "\$@"
rc=\$?
printf '%s %s\n' "\$start" "\$EPOCHREALTIME" >>"$WORK/sbatch-times"
exit \$rc
EOF
chmod +x "$WORK/bin/sbatch"

# RPCs the controller served so far (sum over message types in sdiag).
rpcs() { sdiag 2>/dev/null | awk '/by message type/ { on = 1; next } /by user/ { on = 0 } on && /count:/ { for (i = 1; i <= NF; i++) if ($i ~ /^count:/) { sub("count:", "", $i); n += $i } } END { print n + 0 }'; }

# --- A: stage build, one array ---------------------------------------------------------------
say "A: stage build of a $SHARDS-shard target (one job array)"
rm -f "$WORK/sbatch-times"
rpc0=$(rpcs)
t0=$(now)
(cd "$WS" && PATH="$WORK/bin:$PATH" node "$STAGE" build bench --reporter json >"$WORK/a.ndjson" 2>"$WORK/a.err") || { cat "$WORK/a.err" >&2; die "stage build failed"; }
a_total=$(since "$t0")
a_rpcs=$(( $(rpcs) - rpc0 ))
a_calls=$(wc -l <"$WORK/sbatch-times")
a_submit=$(awk '{ s += $2 - $1 } END { printf "%.3f", s }' "$WORK/sbatch-times")
lines=$(wc -l <"$WS/out/bench.jsonl")
[[ "$lines" == "$SHARDS" ]] || die "A: expected $SHARDS lines in out/bench.jsonl, got $lines"
a_job=$(node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) { if (l.includes("\"slurm-submitted\"")) { console.log(JSON.parse(l).jobId); break; } }' "$WORK/a.ndjson")
say "A: job $a_job, $a_calls sbatch call(s) in ${a_submit}s, build done in ${a_total}s"

# --- B: N separate sbatch jobs ---------------------------------------------------------------
KEY=$(cd "$WS" && node "$STAGE" plan bench --json | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).targets.find((t) => t.target === "bench").key))')
STAGING="$WORK/staging-separate"
mkdir -p "$STAGING"
say "B: $SHARDS separate sbatch jobs, each running stage exec for one shard (key $KEY)"
rm -f "$WORK/sbatch-times"
rpc0=$(rpcs)
t0=$(now)
for ((i = 0; i < SHARDS; i++)); do
  cmd=$(printf '%q ' node "$STAGE" exec bench --key "$KEY" --staging "$STAGING" --shard "$i" --log /dev/null --cache-dir "$STAGE_CACHE_DIR" -f "$WS/Stagefile.ts")
  "$WORK/bin/sbatch" --parsable --job-name="$NAME_B" --output="$WORK/logs-separate/%j.out" --chdir="$WS" --time=10 --mem=100M --wrap "$cmd" >/dev/null
done
b_submitted=$(since "$t0")
while [[ -n "$(squeue -h --name="$NAME_B" -t pending,running,completing,configuring 2>/dev/null | head -n 1)" ]]; do sleep 0.2; done
b_total=$(since "$t0")
b_rpcs=$(( $(rpcs) - rpc0 ))
b_calls=$(wc -l <"$WORK/sbatch-times")
b_submit=$(awk '{ s += $2 - $1 } END { printf "%.3f", s }' "$WORK/sbatch-times")
done_b=$(find "$STAGING/.shards" -name bench.jsonl | wc -l)
[[ "$done_b" == "$SHARDS" ]] || die "B: expected $SHARDS shard outputs, found $done_b"
say "B: $b_calls sbatch calls in ${b_submit}s (loop ${b_submitted}s), all finished after ${b_total}s"

# --- report ----------------------------------------------------------------------------------
rate() { awk -v n="$SHARDS" -v t="$1" 'BEGIN { printf "%.2f", n / t }'; }
REPORT=$(cat <<EOF
# SLURM: one job array vs separate jobs

$(date -u '+%Y-%m-%d %H:%M UTC'), $(slurmctld -V 2>/dev/null || echo slurm), one node with $CPUS CPUs ($(nproc) real cores), \`batch_sched_delay=0,sched_min_interval=0\`, \`bench/slurm/run.sh\` with SHARDS=$SHARDS.
Every task runs the same trivial work: \`stage exec bench --shard i\` (Node start-up, load the compiled Stagefile, recompute
the key, write one line). A: \`stage build\` (polling every 1-2 s) submits one array and merges the shards; its time runs
from starting the CLI to its exit, merge and commit included. B: a shell loop submits one job per shard and waits with
\`squeue\` every 0.2 s; nothing is merged.

| variant | sbatch calls | submission time | time to all complete | tasks/s | controller RPCs |
| --- | ---: | ---: | ---: | ---: | ---: |
| A: \`stage build\`, one array of $SHARDS | $a_calls | ${a_submit} s | ${a_total} s | $(rate "$a_total") | $a_rpcs |
| B: $SHARDS separate \`sbatch\` jobs | $b_calls | ${b_submit} s (loop ${b_submitted} s) | ${b_total} s | $(rate "$b_total") | $b_rpcs |

Both variants are checked: A's merged output has $SHARDS lines, B left $SHARDS shard outputs. Controller RPCs are the
growth of sdiag's per-message counts during the variant (anything else using the cluster meanwhile is included).
EOF
)
printf '%s\n' "$REPORT"
printf '%s\n' "$REPORT" >"$HERE/results.md"
say "written to bench/slurm/results.md"
