/**
 * The SLURM executor: runs a target's rule as a SLURM job (one job array for a sharded target)
 * and leaves the outputs in the target's staging exactly as a local run would, or returns a
 * Failure that names the job, what SLURM said and the end of the job's log.
 *
 * The job runs `stage exec` on a compute node, which recomputes the key and writes into the job
 * directory (see job-dir.ts). The driver only submits, follows and collects:
 *   - job.json is written the moment sbatch answers, so a restarted build follows the same jobs
 *     instead of submitting them again, and keeps the shards that already finished;
 *   - state comes from `scontrol -o show job` (squeue when scontrol has nothing), polled with a
 *     growing pause; each task's exit marker has the last word, with a grace period for a slow
 *     shared filesystem;
 *   - a failed shard goes out again on its own (an array of just that index) while retries last,
 *     and once for free when the cluster was at fault (node failure, preemption, a lost job);
 *   - an abort (Ctrl-C) cancels the jobs and forgets them, so the next build submits afresh.
 */
import {mkdirSync, rmSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import type {Event, Failure} from '../../event.js';
import type {OutputDecl} from '../../graph/graph.js';
import type {CostRecord} from '../../store/store.js';
import {messageOf} from '../../util/result.js';
import {unreachable} from '../../util/unreachable.js';
import {tail} from '../local.js';
import {shardStaging} from '../shards.js';
import {appendJobLogs, collectOutputs} from './collect.js';
import {cancelJobs, runSlurmCommand} from './commands.js';
import type {SlurmJobId} from './ids.js';
import {jobLayout, markerOf, readJobRecord, readMarker, removeJobRecord, taskLogPath, writeJobRecord, type JobLayout, type JobRecord} from './job-dir.js';
import {buildJobSpec, type JobTarget} from './job-spec.js';
import {EXEC_REFUSED_EXIT, shardFailure, submitFailure, type ShardEnding} from './outcome.js';
import {
  classifySubmitError, jobName, markerCheckMs, NO_ATTEMPTS, parseTaskRange, pollDelayMs, pollTiming, retryDecision,
  SUBMIT_ATTEMPTS, submitErrorText, submitRetryDelayMs, summarizeStates, type PollTiming, type ShardAttempts, type ShardEnd,
} from './policy.js';
import {renderJobScript, sbatchArgs} from './script.js';
import {
  isTerminal, isUnknownJobError, parseSbatchOutput, parseScontrolShowJob, parseSqueue, scontrolShowJobArgs, SQUEUE_FORMAT,
  squeueArgs, type SlurmJobRecord,
} from './state.js';

/** Everything the driver needs to know about one target run; produce() fills it in. */
export interface JobRequest extends JobTarget {
  /** Where the outputs must end up (the target's staging directory). */
  readonly staging: string;
  readonly outputs: readonly OutputDecl[];
  /** The target's log; the job logs are appended to it at the end. */
  readonly log: string;
  readonly signal: AbortSignal;
  readonly emit: (e: Event) => void;
}

export interface JobResult {
  readonly failure: Failure | undefined;
  readonly cost: CostRecord | null;
}

/** Runs a target as SLURM job(s) and collects its outputs into `request.staging`. */
export async function runSlurm(request: JobRequest): Promise<JobResult> {
  return new SlurmDriver(request).run();
}

/** A submitted job the driver follows until none of its shards is open. */
interface Followed {
  readonly jobId: SlurmJobId;
  readonly indices: readonly number[];
  readonly submittedAt: string;
  /** Shards with no outcome yet. */
  readonly open: Set<number>;
  /** When a shard entered a state whose meaning waits on its marker (completed, preempted, gone). */
  readonly waitingSince: Map<number, number>;
  /** The last state word seen per shard, for the state events. */
  readonly words: Map<number, string>;
  lastSummary: string;
}

/** What SLURM said about a job in one poll. */
interface JobView {
  readonly records: readonly SlurmJobRecord[];
  /** SLURM does not know the job any more (scontrol and squeue both say so). */
  readonly gone: boolean;
  /** A command failed in a way that says nothing about the job (controller unreachable…). */
  readonly problem?: string | undefined;
}

interface Ended {
  readonly index: number;
  readonly job: Followed;
  readonly ending: ShardEnding;
}

class SlurmDriver {
  readonly #r: JobRequest;
  readonly #layout: JobLayout;
  readonly #sharded: boolean;
  readonly #all: readonly number[];
  readonly #timing: PollTiming;
  readonly #name: string;
  readonly #done = new Set<number>();
  readonly #attempts = new Map<number, ShardAttempts>();
  readonly #followed: Followed[] = [];
  /** Every job id ever submitted for this key (ours, as opposed to a job found by name). */
  readonly #submitted = new Set<string>();
  /** Jobs this run submitted or followed: their logs go into the target's log. */
  readonly #seen = new Set<string>();
  #submissions = 0;
  #quiet = 0;
  #pollProblem: string | undefined;

  constructor(request: JobRequest) {
    this.#r = request;
    this.#layout = jobLayout(request.root, request.key, 'slurm');
    this.#sharded = request.shards > 1;
    this.#all = Array.from({length: this.#sharded ? request.shards : 1}, (_, i) => i);
    this.#timing = pollTiming(request.settings);
    this.#name = jobName(request.key, request.target);
  }

  async run(): Promise<JobResult> {
    for (const d of [this.#layout.logs, this.#layout.markers, this.#layout.staging]) mkdirSync(d, {recursive: true});
    this.#resume();
    const {result, collected} = await this.#drive();
    appendJobLogs(this.#layout.logs, [...this.#seen, 'server'], this.#r.log);
    // Collected outputs were moved out, so the markers no longer vouch for anything: start afresh next time.
    if (collected) rmSync(this.#layout.dir, {recursive: true, force: true});
    return result;
  }

  /** Picks up what an earlier build of this key left: finished shards, and jobs still to follow. */
  #resume(): void {
    for (const i of this.#all) if (readMarker(this.#marker(i)) === 0) this.#done.add(i);
    const record = readJobRecord(this.#layout.record, this.#r.key, this.#r.target);
    if (!record) return;
    this.#submissions = record.submissions;
    for (const id of record.submitted) this.#submitted.add(id);
    for (const [k, v] of Object.entries(record.attempts)) this.#attempts.set(Number(k), v);
    for (const job of record.jobs) {
      const open = job.indices.filter((i) => this.#all.includes(i) && !this.#done.has(i));
      if (open.length === 0) continue;
      this.#follow(job.jobId, job.indices, job.submittedAt, open);
      this.#r.emit({type: 'slurm-submitted', target: this.#r.target, jobId: job.jobId, shards: this.#sharded ? [...job.indices] : [], resumed: true});
    }
    this.#persist();
  }

  async #drive(): Promise<{result: JobResult; collected: boolean}> {
    const stop = async (failure: Failure): Promise<{result: JobResult; collected: boolean}> =>
      ({result: failure.kind === 'cancelled' ? await this.#cancelled() : await this.#give(failure), collected: false});
    if (this.#r.signal.aborted) return stop({kind: 'cancelled'});
    const following = new Set(this.#followed.flatMap((f) => [...f.open]));
    const todo = this.#all.filter((i) => !this.#done.has(i) && !following.has(i));
    if (todo.length > 0) {
      const failure = await this.#submit(todo);
      if (failure) return stop(failure);
    }
    while (this.#followed.length > 0) {
      if (this.#r.signal.aborted) return stop({kind: 'cancelled'});
      const ended: Ended[] = [];
      let changed = false;
      for (const job of this.#followed) changed = (await this.#observe(job, ended)) || changed;
      if (this.#r.signal.aborted) return stop({kind: 'cancelled'});
      const again: number[] = [];
      for (const e of ended) {
        const attempts = this.#attempts.get(e.index) ?? NO_ATTEMPTS;
        // stage exec refusing a stale key would refuse again: no retry can help, only a new build.
        const refused = e.ending.kind === 'exit' && e.ending.status === EXEC_REFUSED_EXIT;
        const decision = refused ? 'give-up' : retryDecision(endOf(e.ending), attempts, this.#r.request?.retries ?? 0);
        if (decision === 'give-up') return stop(this.#failureOf(e));
        const failure = this.#failureOf(e);
        this.#attempts.set(e.index, decision === 'automatic'
          ? {...attempts, automatic: attempts.automatic + 1}
          : {...attempts, resubmits: attempts.resubmits + 1});
        const why = decision === 'automatic' ? 'the cluster was at fault, so this retry is free' : `retry ${attempts.resubmits + 1} of ${this.#r.request?.retries ?? 0}`;
        this.#r.emit({type: 'warning', target: this.#r.target, message: `SLURM job ${failure.jobId ?? '?'} ${failure.message} [${failure.state}]; submitting ${this.#sharded ? `shard ${e.index}` : 'it'} again (${why})`});
        again.push(e.index);
      }
      this.#dropFinished();
      if (again.length > 0) {
        const failure = await this.#submit(again);
        if (failure) return stop(failure);
        changed = true;
      }
      this.#persist();
      if (this.#followed.length === 0) break;
      this.#quiet = changed ? 0 : this.#quiet + 1;
      await this.#pause(pollDelayMs(this.#quiet, this.#timing));
    }
    if (this.#r.signal.aborted) return stop({kind: 'cancelled'});
    const failure = collectOutputs(this.#layout.staging, this.#r.staging, this.#r.outputs, this.#sharded ? this.#r.shards : 1);
    return {result: {failure, cost: null}, collected: true};
  }

  // ------------------------------------------------------------------ submission

  /** Submits the given shards as one job (an array for a sharded target) and records it at once. */
  async #submit(indices: readonly number[]): Promise<Failure | undefined> {
    for (const i of indices) this.#clear(i);
    let script: string;
    try {
      script = renderJobScript(buildJobSpec({...this.#r, layout: this.#layout, staging: this.#layout.staging, indices}));
    } catch (e) {
      return submitFailure('REJECTED', `the job script cannot be written: ${messageOf(e)}`, '');
    }
    const path = join(this.#layout.dir, `submit-${++this.#submissions}.sh`);
    writeFileSync(path, script, {mode: 0o755});
    let jobId: SlurmJobId | undefined;
    for (let attempt = 0; jobId === undefined; attempt++) {
      if (this.#r.signal.aborted) return {kind: 'cancelled'};
      const a = await runSlurmCommand('sbatch', sbatchArgs(path), this.#r.root);
      if (a.exitCode === 0) {
        try {
          jobId = parseSbatchOutput(a.stdout).jobId;
          break;
        } catch {
          // No id in the output: treated as transient below.
        }
      }
      const kind = classifySubmitError(a);
      if (kind === 'rejected') return submitFailure('REJECTED', submitErrorText(a), path);
      if (kind === 'unavailable') return submitFailure('UNAVAILABLE', `sbatch is not on PATH (${submitErrorText(a)}); run stage on a SLURM login node, or use executor 'local'`, path);
      // The controller may have taken the job and failed to say so: look for it before sending another.
      const orphan = await this.#findOrphan();
      if (orphan !== undefined) {
        this.#r.emit({type: 'warning', target: this.#r.target, message: `sbatch failed (${submitErrorText(a)}), but job ${orphan} named ${this.#name} exists: following it`});
        jobId = orphan;
        break;
      }
      if (attempt + 1 >= SUBMIT_ATTEMPTS) return submitFailure('UNAVAILABLE', `sbatch failed ${SUBMIT_ATTEMPTS} times, last: ${submitErrorText(a)}`, path);
      const wait = submitRetryDelayMs(attempt, this.#timing);
      this.#r.emit({type: 'warning', target: this.#r.target, message: `sbatch failed (${submitErrorText(a)}); trying again in ${(wait / 1000).toFixed(1)} s`});
      await this.#sleep(wait);
    }
    this.#submitted.add(jobId);
    this.#follow(jobId, indices, new Date().toISOString(), indices);
    // The moment the id is known: a build killed from here on finds the job on restart.
    this.#persist();
    this.#r.emit({type: 'slurm-submitted', target: this.#r.target, jobId, shards: this.#sharded ? [...indices] : [], resumed: false});
    return undefined;
  }

  /** A live job with our name that is not one of ours: what a timed-out sbatch may have created. */
  async #findOrphan(): Promise<SlurmJobId | undefined> {
    const q = await runSlurmCommand('squeue', ['--noheader', '--states=all', `--format=${SQUEUE_FORMAT}`, `--name=${this.#name}`]);
    if (q.exitCode !== 0) return undefined;
    let records: SlurmJobRecord[];
    try {
      records = parseSqueue(q.stdout);
    } catch {
      return undefined;
    }
    const ids = records
      .filter((r) => r.name === this.#name && !isTerminal(r.state))
      .map((r) => r.arrayJobId ?? r.jobId)
      .filter((id) => !this.#submitted.has(id));
    return ids.sort((a, b) => Number(b) - Number(a))[0];
  }

  /** Removes what an earlier attempt of a shard left, so nothing stale is mistaken for its result. */
  #clear(index: number): void {
    rmSync(this.#marker(index), {force: true});
    const dir = this.#sharded ? shardStaging(this.#layout.staging, index) : this.#layout.staging;
    rmSync(dir, {recursive: true, force: true});
    mkdirSync(dir, {recursive: true});
    this.#done.delete(index);
  }

  #follow(jobId: SlurmJobId, indices: readonly number[], submittedAt: string, open: readonly number[]): void {
    this.#followed.push({jobId, indices: [...indices], submittedAt, open: new Set(open), waitingSince: new Map(), words: new Map(), lastSummary: ''});
    this.#seen.add(jobId);
  }

  /** Rewrites job.json from the jobs still followed (and removes it when there are none). */
  #persist(): void {
    if (this.#followed.length === 0) {
      removeJobRecord(this.#layout.record);
      return;
    }
    const record: JobRecord = {
      version: 1, target: this.#r.target, key: this.#r.key, name: this.#name,
      jobs: this.#followed.map((f) => ({jobId: f.jobId, indices: f.indices, submittedAt: f.submittedAt})),
      submitted: [...this.#submitted], submissions: this.#submissions,
      attempts: Object.fromEntries([...this.#attempts].map(([k, v]) => [String(k), v])),
    };
    writeJobRecord(this.#layout.record, record);
  }

  #dropFinished(): void {
    for (let i = this.#followed.length - 1; i >= 0; i--) if (this.#followed[i]!.open.size === 0) this.#followed.splice(i, 1);
  }

  // ------------------------------------------------------------------ following

  /**
   * One look at a job: markers first (they are final), then SLURM's view for the shards without
   * one. Appends the shards that ended badly to `ended`; returns whether anything changed.
   */
  async #observe(job: Followed, ended: Ended[]): Promise<boolean> {
    let changed = this.#readMarkers(job, ended);
    if (job.open.size > 0) {
      const view = await this.#query(job.jobId);
      if (view.problem !== undefined && this.#pollProblem === undefined) {
        this.#r.emit({type: 'warning', target: this.#r.target, message: `cannot read the state of job ${job.jobId} (${view.problem}); still waiting`});
      }
      this.#pollProblem = view.problem;
      const now = Date.now();
      for (const index of [...job.open]) {
        const record = this.#recordFor(view.records, index);
        const waited = (): number => {
          const since = job.waitingSince.get(index) ?? now;
          job.waitingSince.set(index, since);
          return now - since;
        };
        const end = (ending: ShardEnding): void => {
          job.open.delete(index);
          ended.push({index, job, ending});
        };
        if (!record) {
          job.words.set(index, view.gone ? 'GONE' : 'UNKNOWN');
          if (view.gone && waited() >= this.#timing.markerGraceMs && !this.#readMarkers(job, ended, index)) end({kind: 'lost'});
          continue;
        }
        job.words.set(index, record.rawState.split(/\s+/)[0] ?? record.rawState);
        const s = record.state;
        switch (s.kind) {
          case 'pending':
          case 'running':
          case 'unknown':
            job.waitingSince.delete(index);
            break;
          case 'completed':
            // The script writes its marker before it exits: only a slow filesystem can hide it.
            if (waited() >= this.#timing.markerGraceMs && !this.#readMarkers(job, ended, index)) {
              end({kind: 'no-marker', raw: record.rawState, graceMs: this.#timing.markerGraceMs});
            }
            break;
          case 'failed':
            if ((s.exitCode !== null && s.exitCode !== 0) || (s.signal !== null && s.signal !== 0) || waited() >= this.#timing.markerGraceMs) {
              if (!this.#readMarkers(job, ended, index)) end({kind: 'state', state: s, raw: record.rawState});
            }
            break;
          case 'preempted':
            // With requeue, SLURM puts the job back in the queue: give it the grace period to show up there.
            if (waited() >= this.#timing.markerGraceMs && !this.#readMarkers(job, ended, index)) end({kind: 'state', state: s, raw: record.rawState});
            break;
          case 'timeout':
          case 'out-of-memory':
          case 'node-fail':
          case 'cancelled':
          case 'dependency-never-satisfied':
            if (!this.#readMarkers(job, ended, index)) end({kind: 'state', state: s, raw: record.rawState});
            break;
        }
      }
    }
    const words = job.indices.map((i) => (this.#done.has(i) && !job.open.has(i) ? 'COMPLETED' : job.words.get(i) ?? 'SUBMITTED'));
    const summary = `${summarizeStates(words)}|${this.#done.size}`;
    if (summary !== job.lastSummary) {
      job.lastSummary = summary;
      changed = true;
      this.#r.emit({type: 'slurm-state', target: this.#r.target, jobId: job.jobId, state: summarizeStates(words), done: this.#done.size, total: this.#all.length});
    }
    return changed;
  }

  /**
   * Resolves open shards (all, or just `only`) that have a marker: 0 is done, anything else a
   * failure with that status. Returns whether any was resolved.
   */
  #readMarkers(job: Followed, ended: Ended[], only?: number): boolean {
    let any = false;
    for (const index of only === undefined ? [...job.open] : [only]) {
      if (!job.open.has(index)) continue;
      const status = readMarker(this.#marker(index));
      if (status === undefined) continue;
      job.open.delete(index);
      any = true;
      if (status === 0) {
        this.#done.add(index);
        job.words.set(index, 'COMPLETED');
      } else {
        job.words.set(index, 'FAILED');
        ended.push({index, job, ending: {kind: 'exit', status}});
      }
    }
    return any;
  }

  /** SLURM's records of a job: scontrol, else squeue; "gone" only when both say they do not know it. */
  async #query(jobId: SlurmJobId): Promise<JobView> {
    const sc = await runSlurmCommand('scontrol', scontrolShowJobArgs(jobId));
    if (sc.exitCode === 0) {
      const records = parseOr(() => parseScontrolShowJob(sc.stdout));
      if (records.length > 0) return {records, gone: false};
    }
    const scUnknown = sc.exitCode !== 0 && isUnknownJobError(sc.stderr);
    const sq = await runSlurmCommand('squeue', squeueArgs([jobId]));
    if (sq.exitCode === 0) {
      const records = parseOr(() => parseSqueue(sq.stdout));
      if (records.length > 0) return {records, gone: false};
    }
    const sqUnknown = sq.exitCode === 0 || isUnknownJobError(sq.stderr);
    if (scUnknown && sqUnknown) return {records: [], gone: true};
    const problem = sc.exitCode !== 0 && !scUnknown ? sc.stderr.trim() || `scontrol exited with ${sc.exitCode ?? 'a signal'}` : undefined;
    return {records: [], gone: false, problem};
  }

  #recordFor(records: readonly SlurmJobRecord[], index: number): SlurmJobRecord | undefined {
    if (!this.#sharded) return records.find((r) => r.arrayTaskId === undefined && r.pendingArrayTasks === undefined) ?? records[0];
    return records.find((r) => r.arrayTaskId === index)
      ?? records.find((r) => r.pendingArrayTasks !== undefined && (parseTaskRange(r.pendingArrayTasks)?.includes(index) ?? false));
  }

  /**
   * Waits until the next poll, looking at the markers in between (cheap, and they settle most
   * shards without asking the controller). Returns early when every open shard has its marker,
   * or on abort.
   */
  async #pause(ms: number): Promise<void> {
    const until = Date.now() + ms;
    const step = markerCheckMs(this.#timing);
    while (!this.#r.signal.aborted) {
      const left = until - Date.now();
      if (left <= 0) return;
      await this.#sleep(Math.min(step, left));
      if (this.#followed.every((f) => [...f.open].every((i) => readMarker(this.#marker(i)) !== undefined))) return;
    }
  }

  async #sleep(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, {signal: this.#r.signal});
    } catch {
      // Aborted: the caller looks at the signal.
    }
  }

  // ------------------------------------------------------------------ endings

  #failureOf(e: Ended): Extract<Failure, {kind: 'slurm'}> {
    const log = taskLogPath(this.#layout, e.job.jobId, e.index, this.#sharded);
    const attempts = this.#attempts.get(e.index) ?? NO_ATTEMPTS;
    return shardFailure(e.ending, {
      index: e.index, sharded: this.#sharded, jobId: e.job.jobId, request: this.#r.request,
      submissions: 1 + attempts.resubmits + attempts.automatic,
    }, tail(log), log);
  }

  async #cancelFollowed(): Promise<void> {
    const live = this.#followed.filter((f) => f.open.size > 0).map((f) => f.jobId);
    const problem = await cancelJobs(live);
    if (problem !== undefined) this.#r.emit({type: 'warning', target: this.#r.target, message: `scancel ${live.join(' ')} failed: ${problem}; cancel the job(s) by hand`});
    this.#followed.length = 0;
  }

  /** Ctrl-C: cancel the jobs, and forget them so the next build submits afresh. */
  async #cancelled(): Promise<JobResult> {
    await this.#cancelFollowed();
    removeJobRecord(this.#layout.record);
    return {failure: {kind: 'cancelled'}, cost: null};
  }

  /**
   * The target fails: its other jobs are cancelled (no new work after a failure, as for local
   * rules) and forgotten; shards that finished keep their outputs and markers, so the next build
   * of this key submits only the rest.
   */
  async #give(failure: Failure): Promise<JobResult> {
    await this.#cancelFollowed();
    removeJobRecord(this.#layout.record);
    return {failure, cost: null};
  }

  #marker(index: number): string {
    return markerOf(this.#layout, index, this.#sharded);
  }
}

/** A shard's ending as the retry policy sees it. */
function endOf(ending: ShardEnding): ShardEnd {
  switch (ending.kind) {
    case 'state':
      return ending.state;
    case 'lost':
      return {kind: 'lost'};
    case 'exit':
      return {kind: 'failed', exitCode: ending.status, signal: null};
    case 'no-marker':
      return {kind: 'failed', exitCode: null, signal: null};
    default:
      return unreachable(ending);
  }
}

function parseOr(parse: () => SlurmJobRecord[]): SlurmJobRecord[] {
  try {
    return parse();
  } catch {
    return [];
  }
}
