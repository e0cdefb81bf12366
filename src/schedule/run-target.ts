import {mkdirSync, rmSync} from 'node:fs';
import {join} from 'node:path';
import type {BuildCounts, Failure} from '../event.js';
import {runLlm} from '../execute/llm.js';
import {checkSchema} from '../execute/schema.js';
import {runLocal, type LocalJob} from '../execute/local.js';
import {mergeShards, shardStaging} from '../execute/shards.js';
import {runSlurm, type JobRequest} from '../execute/slurm/driver.js';
import {runJobScriptLocally} from '../execute/slurm/local-run.js';
import {dependencyOutputs, type Node} from '../graph/graph.js';
import type {ContentHash} from '../ids.js';
import type {CostRecord} from '../store/store.js';
import {commitRun, driftedInput, stagedFiles} from './commit.js';
import type {BuildContext} from './context.js';
import type {Decision} from './decide.js';
import type {ScheduleOptions} from './scheduler.js';

/**
 * Runs one target's rule into a fresh staging directory and, when it succeeded, wrote every
 * declared output and no input changed meanwhile, commits the outputs. Anything else leaves the
 * store and the workspace as they were.
 */
let stagingCounter = 0;

export async function runTarget(ctx: BuildContext, node: Node, d: Extract<Decision, {kind: 'run'}>, opts: ScheduleOptions, counts: BuildCounts): Promise<ContentHash | undefined> {
  const root = ctx.graph.root;
  const staging = join(root, '.stage', 'tmp', `${process.pid}-${++stagingCounter}`);
  const logDir = join(root, '.stage', 'logs');
  const log = join(logDir, `${node.id.replaceAll('/', '__')}.log`);
  mkdirSync(logDir, {recursive: true});
  rmSync(log, {force: true});
  for (const o of node.outputs) mkdirSync(join(staging, o.dir ? o.path : join(o.path, '..')), {recursive: true});
  const depFiles = dependencyOutputs(ctx.graph, node);
  // Inputs and the dependencies' output files: none may change while the rule runs.
  const watched = [...d.inputs, ...node.deps.flatMap((i) => ctx.state.target(ctx.graph.nodes[i]!.id)?.files.map(([p]) => p) ?? [])];
  opts.emit({type: 'target-started', target: node.id, key: d.key, reason: d.reasons.join('; ')});
  const started = performance.now();
  const reports: string[] = [];
  const prevDigest = ctx.state.target(node.id)?.digest;
  try {
    const job = {
      target: node.id, key: d.key, root, params: JSON.parse(node.params) as unknown,
      inputs: d.inputs.map((p) => join(root, p)), deps: depFiles,
      outs: node.outputs.map((o) => join(staging, o.path)), log, signal: opts.signal,
      report: (text: string) => {
        reports.push(text);
        opts.emit({type: 'target-report', target: node.id, text});
      },
    };
    const {failure, cost} = await produce(ctx, node, job, staging, opts);
    if (failure) {
      if (failure.kind === 'cancelled') {
        counts.skipped++;
        opts.emit({type: 'target-skipped', target: node.id, because: 'the build was interrupted'});
      } else {
        counts.failed++;
        opts.emit({type: 'target-failed', target: node.id, failure});
      }
      return undefined;
    }
    const staged = stagedFiles(node, staging);
    if ('missing' in staged) {
      counts.failed++;
      opts.emit({type: 'target-failed', target: node.id, failure: {kind: 'missing-output', path: staged.missing}});
      return undefined;
    }
    const schema = node.schema;
    const invalid = schema === undefined ? undefined : await checkSchema(root, schema, staging, staged.files);
    if (invalid) {
      counts.failed++;
      opts.emit({type: 'target-failed', target: node.id, failure: invalid});
      return undefined;
    }
    const drifted = driftedInput(ctx, watched);
    if (drifted) {
      counts.failed++;
      opts.emit({type: 'target-failed', target: node.id, failure: {kind: 'input-changed', path: drifted}});
      return undefined;
    }
    const durationMs = Math.round(performance.now() - started);
    const entry = commitRun(ctx, node, d.key, d.components, staging, staged.files, durationMs, cost, reports);
    counts.ran++;
    opts.emit({type: 'target-succeeded', target: node.id, key: d.key, durationMs, outputChanged: entry.digest !== prevDigest});
    return entry.digest;
  } finally {
    rmSync(staging, {recursive: true, force: true});
  }
}

/**
 * Produces the outputs in staging: model calls, a SLURM job (or job array), the job script run
 * locally (a local target with a model server), a sharded rule, or a plain local run.
 */
async function produce(ctx: BuildContext, node: Node, job: Omit<LocalJob, 'run'> & {readonly key: string}, staging: string, opts: ScheduleOptions): Promise<{failure: Failure | undefined; cost: CostRecord | null}> {
  const run = node.run;
  if (run.kind === 'llm') return runLlm(job, run, opts.llm(), opts.emit);
  const spec = node.decl.spec;
  const count = spec.shards ?? 1;
  if (spec.executor === 'slurm' || spec.server !== undefined) {
    const request: JobRequest = {
      target: node.id, key: job.key, root: job.root, staging, outputs: node.outputs, shards: count,
      request: spec.slurm, server: spec.server, settings: ctx.settings.config.slurm,
      stagefile: ctx.loaded.file, profile: ctx.loaded.registry.profile, cacheDir: ctx.settings.cacheDir,
      log: job.log, signal: opts.signal, emit: opts.emit,
    };
    return spec.executor === 'slurm' ? runSlurm(request) : runJobScriptLocally(request);
  }
  if (count === 1) return {failure: await runLocal({...job, run}), cost: null};
  for (let index = 0; index < count; index++) {
    const dir = shardStaging(staging, index);
    for (const o of node.outputs) mkdirSync(join(dir, o.path, '..'), {recursive: true});
    const failure = await runLocal({...job, run, shard: {index, count}, outs: node.outputs.map((o) => join(dir, o.path))});
    if (failure) return {failure, cost: null};
  }
  const missing = mergeShards(staging, node.outputs.map((o) => o.path), count);
  return {failure: missing ? {kind: 'missing-output', path: missing} : undefined, cost: null};
}
