import {mkdirSync} from 'node:fs';
import {join} from 'node:path';
import type {Failure} from '../event.js';
import {expandInputs} from '../fingerprint/inputs.js';
import {dependencyOutputs} from '../graph/graph.js';
import {selectClosure} from '../graph/select.js';
import type {BuildContext} from '../schedule/context.js';
import {plan} from '../schedule/plan.js';
import {err, ok, type Result} from '../util/result.js';
import {runLocal} from './local.js';
import {shardStaging} from './shards.js';

export interface ExecRequest {
  readonly target: string;
  /** The key the driver computed; the node refuses to run anything else. */
  readonly key: string;
  readonly staging: string;
  readonly shard?: number | undefined;
  readonly log: string;
  readonly signal: AbortSignal;
}

/**
 * `stage exec`: runs one target's rule, or one shard of it, where the job landed (a compute
 * node), writing into the staging directory the driver named; the driver checks and commits.
 * The key is recomputed here from the shared filesystem: if an input changed after the job was
 * submitted, the job refuses rather than store a result under the wrong key. Nothing here writes
 * the workspace state, which belongs to the driver.
 */
export async function execTarget(ctx: BuildContext, req: ExecRequest): Promise<Result<Failure | undefined, string>> {
  const node = ctx.graph.byName.get(req.target);
  if (!node) return err(`no target is named "${req.target}" in this Stagefile (profile mismatch?)`);
  if (node.run.kind === 'llm') return err(`"${req.target}" is an LLM rule; it runs in the driver, not in a job`);
  const closure = selectClosure(ctx.graph, [req.target]);
  if (!closure.ok) return err(closure.error.map((d) => d.message).join('; '));
  const entry = (await plan(ctx, closure.value)).find((e) => e.target === req.target)!;
  if (entry.key !== req.key) {
    return err(`the inputs of "${req.target}" changed after the job was submitted (submitted key ${req.key}, now ${entry.key ?? `unknown: ${entry.reasons.join('; ')}`}); build again`);
  }
  const count = node.decl.spec.shards ?? 1;
  if (req.shard !== undefined && !(Number.isInteger(req.shard) && req.shard >= 0 && req.shard < count)) {
    return err(`"${req.target}" has ${count} shard(s); there is no shard ${req.shard}`);
  }
  const root = ctx.graph.root;
  const dir = req.shard === undefined ? req.staging : shardStaging(req.staging, req.shard);
  for (const o of node.outputs) mkdirSync(o.dir ? join(dir, o.path) : join(dir, o.path, '..'), {recursive: true});
  const deps = dependencyOutputs(ctx.graph, node);
  const inputs = expandInputs(root, node.inputs).map((p) => join(root, p));
  const failure = await runLocal({
    target: node.id, root, run: node.run, params: JSON.parse(node.params) as unknown, inputs, deps,
    outs: node.outputs.map((o) => join(dir, o.path)), log: req.log, signal: req.signal,
    ...(req.shard !== undefined ? {shard: {index: req.shard, count}} : {}),
  });
  return ok(failure);
}
