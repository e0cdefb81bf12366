#!/usr/bin/env bash
# No-op build benchmark: stage against ninja, make and snakemake on one 10k-target layered DAG
# (1,000 sources, 10 layers x 1,000 targets, fan-in 2, every rule `cat inputs > output`), plus
# the bare Node start and a bare-Node "floor" (read a JSON state, stat 11k files, compare).
#
# Each tool gets its own copy of the DAG, does a real first full build, is checked to be in a
# true no-op state, and is then timed with hyperfine side by side. Also timed: stage's no-op on
# examples/hello, and a cold vs a cached compile of the Stagefile. The report is printed and
# written to bench/noop/results.md.
#
# Environment: RUNS (15), SMK_RUNS (3), COMPILE_RUNS (10), PROFILE_RUNS (5; 0 = no profile),
#              IDLE_WAIT (300: seconds to wait for a busy machine to calm down before timing),
#              KEEP_WORK=1 keeps the work directory, REBUILD=1 runs `npm run build` even if lib/ exists.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STAGE="$REPO/bin/stage.js"
RUNS=${RUNS:-15}
SMK_RUNS=${SMK_RUNS:-3}
COMPILE_RUNS=${COMPILE_RUNS:-10}
PROFILE_RUNS=${PROFILE_RUNS:-5}
IDLE_WAIT=${IDLE_WAIT:-300}
JOBS=2

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# --- tools ---------------------------------------------------------------------------------
missing=()
for pair in make:make ninja:ninja-build snakemake:snakemake hyperfine:hyperfine /usr/bin/time:time; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if ((${#missing[@]} > 0)); then
  say "installing ${missing[*]}"
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to install: ${missing[*]}"
    SUDO=(sudo)
  fi
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v node >/dev/null 2>&1 || die "node is not installed"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || die "need Node >= 20, have $(node --version)"

if [[ ! -d "$REPO/lib" || "${REBUILD:-0}" == 1 ]]; then
  say "building stage (npm run build)"
  (cd "$REPO" && npm run build >/dev/null)
fi
[[ -f "$REPO/lib/cli.js" ]] || die "lib/cli.js is missing after the build"

# --- work directory --------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/stage-noop.XXXXXX")
cleanup() {
  if [[ "${KEEP_WORK:-0}" == 1 ]]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
[[ "$WORK$REPO" != *[[:space:]]* ]] || die "paths with spaces are not supported ($WORK, $REPO)"
export STAGE_CACHE_DIR="$WORK/stage-store"
META="$WORK/meta.tsv"
: >"$META"
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }

say "generating the DAG (one copy per tool) in $WORK"
for tool in make ninja snakemake stage; do node "$HERE/generate.mjs" "$WORK/$tool" >/dev/null; done
cp -r "$REPO/examples/hello" "$WORK/hello"
rm -rf "$WORK/hello/.stage" "$WORK/hello/out"

meta date "$(date -u +%Y-%m-%dT%H:%MZ)"
meta machine "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), Linux $(uname -r)"
meta versions "node $(node --version), $(make --version | head -1), ninja $(ninja --version), snakemake $(snakemake --version), $(hyperfine --version)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# Runs a command and records its wall time (seconds) under "first:<name>".
now() { date +%s%N; }
timed() {
  local name=$1 t0 t1
  shift
  t0=$(now)
  "$@"
  t1=$(now)
  meta "first:$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')"
}
# Prints "fresh restored ran failed skipped hashed" from a stage --reporter json log ("hashed" is
# the number of files read for hashing, or "-" if this version of stage does not report it).
stage_counts() {
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
    const end = lines.map((l) => { try { return JSON.parse(l); } catch { return {}; } }).findLast((e) => e.type === "build-finished");
    if (!end) { console.error("no build-finished event in " + process.argv[1]); process.exit(1); }
    const c = end.counts;
    console.log([c.fresh, c.restored, c.ran, c.failed, c.skipped, end.filesHashed ?? "-"].join(" "));' "$1"
}
stage_build() { (cd "$1" && node "$STAGE" build -j "$JOBS" --reporter json); }

# --- first full builds -----------------------------------------------------------------------
say "first full build: make -j$JOBS"
timed make make -C "$WORK/make" -j "$JOBS" >"$WORK/make.first.log"
n=$(grep -c '^cat ' "$WORK/make.first.log" || true)
[[ "$n" == 10000 ]] || die "make ran $n recipes on its first build, expected 10000"

say "first full build: ninja -j$JOBS"
timed ninja ninja -C "$WORK/ninja" -j "$JOBS" >"$WORK/ninja.first.log"
grep -q '\[10000/10000\]' "$WORK/ninja.first.log" || die "ninja did not run 10000 edges on its first build"

say "first full build: stage -j $JOBS"
timed stage stage_build "$WORK/stage" >"$WORK/stage.first.log"
read -r fresh restored ran failed skipped _ < <(stage_counts "$WORK/stage.first.log")
[[ "$ran $restored $fresh $failed $skipped" == "10000 0 0 0 0" ]] || die "stage's first build: ran=$ran restored=$restored fresh=$fresh failed=$failed skipped=$skipped, expected 10000 runs"

# Snakemake's default ILP scheduler takes minutes per thousand jobs on this DAG (it re-solves
# the job selection for every free core); the greedy scheduler builds the same jobs. The
# scheduler plays no part in the no-op, which stops before any job is selected.
say "first full build: snakemake --cores $JOBS --scheduler greedy (slow)"
timed snakemake snakemake --cores "$JOBS" --scheduler greedy -d "$WORK/snakemake" -s "$WORK/snakemake/Snakefile" >"$WORK/snakemake.first.log" 2>&1
grep -q '10001 of 10001 steps (100%) done' "$WORK/snakemake.first.log" || die "snakemake did not complete 10001 steps; see $WORK/snakemake.first.log"

say "first build: stage on examples/hello"
stage_build "$WORK/hello" >"$WORK/hello.first.log"
read -r fresh restored ran failed skipped _ < <(stage_counts "$WORK/hello.first.log")
((ran > 0 && failed == 0 && skipped == 0)) || die "examples/hello did not build (ran=$ran failed=$failed skipped=$skipped)"
HELLO_TOTAL=$((fresh + restored + ran))

say "checking that every tool produced the same 10,000 outputs"
for tool in ninja snakemake stage; do
  diff -rq "$WORK/make/out" "$WORK/$tool/out" >/dev/null || die "out/ of $tool differs from make's"
done
[[ $(find "$WORK/make/out" -type f | wc -l) == 10000 ]] || die "expected 10000 outputs"

node "$HERE/floor.mjs" "$WORK/stage" >/dev/null  # first pass: record the state

# --- no-op checks ----------------------------------------------------------------------------
verify_noop() {
  local when=$1 out
  say "verifying the no-op state ($when)"
  make -q -C "$WORK/make" || die "make -q says work is needed ($when)"
  out=$(make -C "$WORK/make" -j "$JOBS" 2>&1)
  [[ "$out" == *"Nothing to be done"* && "$out" != *"cat "* ]] || die "make is not a no-op ($when): $out"
  out=$(ninja -C "$WORK/ninja" -n 2>&1)
  [[ "$out" == *"ninja: no work to do."* ]] || die "ninja -n is not a no-op ($when): $out"
  stage_build "$WORK/stage" >"$WORK/stage.noop.log"
  read -r fresh restored ran failed skipped hashed < <(stage_counts "$WORK/stage.noop.log")
  [[ "$fresh $restored $ran $failed $skipped" == "10000 0 0 0 0" ]] || die "stage is not a no-op ($when): fresh=$fresh restored=$restored ran=$ran failed=$failed"
  [[ "$hashed" == 0 || "$hashed" == - ]] || die "stage's no-op read $hashed files for hashing ($when); the stat cache should answer"
  stage_build "$WORK/hello" >"$WORK/hello.noop.log"
  read -r fresh restored ran failed skipped _ < <(stage_counts "$WORK/hello.noop.log")
  [[ "$fresh $restored $ran $failed $skipped" == "$HELLO_TOTAL 0 0 0 0" ]] || die "stage is not a no-op on examples/hello ($when)"
  out=$(snakemake -n --cores "$JOBS" -d "$WORK/snakemake" -s "$WORK/snakemake/Snakefile" 2>&1)
  [[ "$out" == *"Nothing to be done"* ]] || die "snakemake -n has work to do ($when): $(tail -5 <<<"$out")"
  node "$HERE/floor.mjs" "$WORK/stage" >/dev/null || die "floor: files changed ($when)"
}
verify_noop "before timing"

# Share of CPU time the machine spent busy over 3 s while this script was idle: anything else
# running shifts absolute times (compare ratios taken in one run, never times across runs).
cpu_busy() {
  local a b
  read -r -a a < <(grep '^cpu ' /proc/stat)
  sleep 3
  read -r -a b < <(grep '^cpu ' /proc/stat)
  awk -v u=$((b[1] + b[2] + b[3] + b[6] + b[7] - a[1] - a[2] - a[3] - a[6] - a[7])) \
      -v t=$((b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + b[7] - a[1] - a[2] - a[3] - a[4] - a[5] - a[6] - a[7])) \
      'BEGIN { printf "%.0f%%", t ? 100 * u / t : 0 }'
}
# On a shared machine, wait (up to IDLE_WAIT seconds) for other work to calm down before each
# timed block, and note how busy the machine was when the block started.
IDLE_LOG=()
wait_idle() {
  local block=$1 busy waited=0
  busy=$(cpu_busy)
  while ((waited < IDLE_WAIT && ${busy%\%} > 15)); do
    ((waited > 0)) || say "the machine is busy ($busy CPU); waiting up to ${IDLE_WAIT}s before timing $block"
    busy=$(cpu_busy)
    waited=$((waited + 3))
  done
  IDLE_LOG+=("$block: $busy busy at start (waited ${waited} s)")
}

# --- commands under test -----------------------------------------------------------------------
C_NINJA="ninja -C $WORK/ninja -j $JOBS"
C_MAKEQ="make -q -C $WORK/make"
C_MAKE="make -C $WORK/make -j $JOBS"
C_SMK="snakemake --cores $JOBS -d $WORK/snakemake -s $WORK/snakemake/Snakefile"
C_STAGE="node $STAGE build -j $JOBS -f $WORK/stage/Stagefile.ts"
C_HELLO="node $STAGE build -j $JOBS -f $WORK/hello/Stagefile.ts"
C_FLOOR="node $HERE/floor.mjs $WORK/stage"
C_NODE="node -e 0"

say "peak RSS of one no-op each"
for pair in "ninja -j2|$C_NINJA" "make -q|$C_MAKEQ" "make -j2|$C_MAKE" "stage build|$C_STAGE" \
            "floor (Node stat of 11k files)|$C_FLOOR" "node -e 0|$C_NODE" "stage build (examples/hello)|$C_HELLO" \
            "snakemake --cores 2|$C_SMK"; do
  # shellcheck disable=SC2086  # the command is split on purpose
  /usr/bin/time -f %M -o "$WORK/rss" ${pair#*|} >/dev/null 2>&1 || true
  meta "rss:${pair%%|*}" "$(tail -1 "$WORK/rss")"
done

wait_idle "the no-ops"
say "timing the no-ops side by side (hyperfine, $RUNS runs)"
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/noop.json" \
  -n 'ninja -j2' "$C_NINJA" \
  -n 'make -q' "$C_MAKEQ" \
  -n 'make -j2' "$C_MAKE" \
  -n 'stage build' "$C_STAGE" \
  -n 'floor (Node stat of 11k files)' "$C_FLOOR" \
  -n 'node -e 0' "$C_NODE" \
  -n 'stage build (examples/hello)' "$C_HELLO" >&2

wait_idle "snakemake"
say "timing snakemake's no-op (hyperfine, $SMK_RUNS runs)"
hyperfine -N --warmup 1 --runs "$SMK_RUNS" --export-json "$WORK/snakemake.json" \
  -n 'snakemake --cores 2' "$C_SMK" >&2

wait_idle "the compiles"
say "timing a cold vs a cached compile of the Stagefile (hyperfine, $COMPILE_RUNS runs)"
hyperfine -N --warmup 2 --runs "$COMPILE_RUNS" --export-json "$WORK/compile.json" \
  --prepare "rm -rf $WORK/hello/.stage/compiled" -n 'hello, cold compile' "$C_HELLO" \
  --prepare "true" -n 'hello, cached compile' "$C_HELLO" \
  --prepare "rm -rf $WORK/stage/.stage/compiled" -n '10k, cold compile' "$C_STAGE" \
  --prepare "true" -n '10k, cached compile' "$C_STAGE" >&2

verify_noop "after timing"

PROFILE_ARGS=()
if ((PROFILE_RUNS > 0)); then
  wait_idle "the profile"
  say "profiling stage's no-op ($PROFILE_RUNS runs, node --cpu-prof, 100 us sampling)"
  for ((i = 0; i < PROFILE_RUNS; i++)); do
    (cd "$WORK/stage" && node --cpu-prof --cpu-prof-interval 100 --cpu-prof-dir "$WORK/prof" "$STAGE" build -j "$JOBS" >/dev/null)
  done
  node "$HERE/profile-summary.mjs" --root "$REPO" --top 15 "$WORK"/prof/*.cpuprofile >"$WORK/profile.md"
  PROFILE_ARGS=(--profile "$WORK/profile.md")
fi

meta notes "Other activity (CPU busy over 3 s while this script was idle): $(IFS=';'; echo "${IDLE_LOG[*]}" | sed 's/;/; /g'); load average before the first builds $LOAD_BEFORE, after timing $(cut -d' ' -f1-3 /proc/loadavg). Warm page cache; no daemons. hyperfine -N --warmup 3 --runs $RUNS (snakemake: --warmup 1 --runs $SMK_RUNS). Peak RSS from one run under /usr/bin/time."

say "results"
node "$HERE/report.mjs" --meta "$META" --out "$HERE/results.md" "${PROFILE_ARGS[@]}" \
  "$WORK/noop.json" "$WORK/snakemake.json" "$WORK/compile.json"
