import {isAbsolute, normalize} from 'node:path';
import type {CallSite} from '../config/call-site.js';
import type {ModelRoleDecl, Registry, TargetDecl} from '../config/define.js';
import {canonicalJson} from '../fingerprint/canonical.js';
import {checkTargetName, relPath, targetId} from '../ids.js';
import type {Diagnostic, Location} from '../util/diagnostic.js';
import {err, ok, type Result} from '../util/result.js';
import {closest} from '../util/suggest.js';
import {findCycle} from './cycles.js';
import type {Graph, Node, OutputDecl} from './graph.js';

/** Turns a call site into a source location; supplied by the loader, which knows the source map. */
export type Locate = (site: CallSite) => Location | undefined;

const SPEC_KEYS = new Set(['deps', 'inputs', 'params', 'out', 'run', 'resources', 'description', 'executor', 'slurm', 'shards', 'server', 'schema']);

/**
 * Checks every declaration and builds the graph. All problems are collected, each at the line
 * that caused it, so one run of `stage plan` shows everything to fix; nothing runs if any exist.
 */
export function analyze(root: string, reg: Registry, locate: Locate): Result<Graph, Diagnostic[]> {
  const diags: Diagnostic[] = [];
  const error = (decl: {site: CallSite}, message: string, hint?: string, related?: Diagnostic['related']): void => {
    diags.push({severity: 'error', message, location: locate(decl.site), hint, related});
  };

  const pools = new Map<string, number>();
  for (const p of reg.pools) {
    if (!Number.isInteger(p.depth) || p.depth < 1) error(p, `pool "${p.name}" needs a whole depth of at least 1, got ${String(p.depth)}`);
    else pools.set(p.name, p.depth);
  }

  const models = new Map<string, ModelRoleDecl>();
  for (const m of reg.models) {
    const first = models.get(m.role);
    if (first) {
      const loc = locate(first.site);
      error(m, `model role "${m.role}" is declared twice`, 'declare each role once (choose between profiles with an if)', loc ? [{message: 'first declared here', location: loc}] : []);
    } else if (!['openai', 'azure', 'openai-compatible'].includes(m.provider)) {
      error(m, `model role "${m.role}" has an unknown provider "${String(m.provider)}"`, 'use "openai", "azure" or "openai-compatible"');
    } else if (typeof m.model !== 'string' || m.model === '') {
      error(m, `model role "${m.role}" needs a model (the dated snapshot, e.g. "gpt-4-0613")`);
    } else models.set(m.role, m);
  }

  const byName = new Map<string, TargetDecl>();
  for (const decl of reg.targets) {
    const bad = checkTargetName(decl.name);
    if (bad) error(decl, bad);
    const first = byName.get(decl.name);
    if (first) {
      const loc = locate(first.site);
      error(decl, `target "${decl.name}" is declared twice`, 'give each target a unique name (families usually add the loop variable)',
        loc ? [{message: 'first declared here', location: loc}] : []);
    } else byName.set(decl.name, decl);
  }

  const nodes: Node[] = [];
  const nodeByName = new Map<string, Node>();
  const producers = new Map<string, TargetDecl>();
  for (const decl of byName.values()) {
    const node = checkDecl(decl, nodes.length, error, pools, models);
    if (!node) continue;
    for (const o of node.outputs) {
      const other = producers.get(o.path);
      if (other) {
        const loc = locate(other.site);
        error(decl, `output "${o.path}" of target "${decl.name}" is also an output of "${other.name}"`,
          'each file must have exactly one producer', loc ? [{message: `"${other.name}" declared here`, location: loc}] : []);
      } else producers.set(o.path, decl);
    }
    nodes.push(node);
    nodeByName.set(node.id, node);
  }

  // Dependencies are resolved after every declaration is known, so a name may point forward.
  for (const node of nodes) {
    const deps = node.deps as number[];
    for (const d of node.decl.spec.deps ?? []) {
      const name = typeof d === 'string' ? d : d.name;
      const dep = nodeByName.get(name);
      if (!dep) {
        const near = closest(name, nodeByName.keys());
        error(node.decl, `target "${node.id}" depends on "${name}", which is not declared`, near ? `did you mean "${near}"?` : undefined);
        continue;
      }
      if (!deps.includes(dep.index)) deps.push(dep.index);
      dep.dependents.push(node.index);
    }
    for (const pattern of node.inputs) {
      const producer = producers.get(normalize(pattern));
      if (producer) {
        error(node.decl, `input "${pattern}" of "${node.id}" is the output of target "${producer.name}"`,
          `list "${producer.name}" in deps instead, so its output hash enters the key and it is built first`);
      }
    }
  }
  if (diags.length > 0) return err(diags);

  const cycle = findCycle(nodes);
  if (cycle.kind === 'cycle') {
    const path = cycle.path.map((i) => nodes[i]!);
    const related = path.flatMap((n, i) => {
      const loc = locate(n.decl.site);
      const next = path[(i + 1) % path.length]!;
      return loc ? [{message: `"${n.id}" depends on "${next.id}"`, location: loc}] : [];
    });
    const first = path[0]!;
    error(first.decl, `dependency cycle: ${[...path, first].map((n) => n.id).join(' -> ')}`,
      'a target cannot depend on its own output; break one of these edges', related);
    return err(diags);
  }
  return ok({root, nodes, byName: nodeByName, order: cycle.order, pools, models});
}

type ErrorSink = (decl: {site: CallSite}, message: string, hint?: string) => void;

function checkDecl(decl: TargetDecl, index: number, error: ErrorSink, pools: ReadonlyMap<string, number>, models: ReadonlyMap<string, ModelRoleDecl>): Node | undefined {
  const spec = decl.spec as unknown as Record<string, unknown>;
  let errors = 0;
  const fail = (message: string, hint?: string): void => {
    errors++;
    error(decl, message, hint);
  };
  for (const k of Object.keys(spec)) {
    if (!SPEC_KEYS.has(k)) {
      const near = closest(k, SPEC_KEYS);
      fail(`target "${decl.name}" has an unknown field "${k}"`, near ? `did you mean "${near}"?` : `known fields: ${[...SPEC_KEYS].join(', ')}`);
    }
  }
  const run = decl.spec.run as {kind?: unknown; roles?: unknown} | undefined;
  if (!run || (run.kind !== 'rule' && run.kind !== 'command' && run.kind !== 'llm')) {
    fail(`target "${decl.name}" needs "run": a rule(...), llmRule(...), sh(...) or cmd(...)`);
  } else if (run.kind === 'llm') {
    for (const role of Array.isArray(run.roles) ? (run.roles as string[]) : []) {
      if (!models.has(role)) {
        const near = closest(role, models.keys());
        fail(`target "${decl.name}" calls model role "${role}", which is not declared`, near ? `did you mean "${near}"?` : `declare it with model("${role}", {provider, model})`);
      }
    }
  }
  const outputs = checkOutputs(decl, fail);
  const inputs = decl.spec.inputs ?? [];
  if (!Array.isArray(inputs) || inputs.some((i) => typeof i !== 'string' || i === '')) {
    fail(`"inputs" of "${decl.name}" must be a list of file paths or globs`);
  }
  let params = 'null';
  try {
    const bad = findNonJson(decl.spec.params, 'params');
    if (bad) fail(`parameter ${bad.path} of "${decl.name}" is ${bad.what}, which cannot be part of a key`, 'parameters must be JSON: null, booleans, finite numbers, strings, arrays and plain objects');
    else params = canonicalJson(decl.spec.params ?? null);
  } catch (e) {
    fail(`parameters of "${decl.name}" cannot be serialised: ${String(e)}`);
  }
  const shards = decl.spec.shards ?? 1;
  if (!Number.isInteger(shards) || shards < 1) fail(`"shards" of "${decl.name}" must be a whole number of at least 1, got ${String(shards)}`);
  if (shards > 1 && outputs.some((o) => o.dir)) fail(`sharded target "${decl.name}" cannot have a directory output`, 'shard outputs are files concatenated in shard order');
  if (shards > 1 && run?.kind === 'command') fail(`sharded target "${decl.name}" needs a TypeScript rule`, 'a rule reads ctx.shard to know its part of the work');
  const executor = decl.spec.executor ?? 'local';
  if (executor !== 'local' && executor !== 'slurm') fail(`"executor" of "${decl.name}" must be "local" or "slurm", got ${JSON.stringify(executor)}`);
  if (executor === 'slurm' && run?.kind === 'llm') fail(`LLM rule target "${decl.name}" runs its calls from this process; it cannot be a SLURM job`);
  const resources = new Map<string, number>();
  for (const [pool, weight] of Object.entries(decl.spec.resources ?? {})) {
    if (!pools.has(pool)) {
      const near = closest(pool, pools.keys());
      fail(`target "${decl.name}" uses pool "${pool}", which is not declared`, near ? `did you mean "${near}"?` : `declare it with pool("${pool}", depth)`);
    } else if (!Number.isInteger(weight) || weight < 1 || weight > pools.get(pool)!) {
      fail(`target "${decl.name}" takes ${String(weight)} of pool "${pool}" (depth ${pools.get(pool)!})`, 'use a whole number between 1 and the pool depth');
    } else resources.set(pool, weight);
  }
  const schema = decl.spec.schema;
  if (schema !== undefined && (typeof schema !== 'string' || !schema.endsWith('.json'))) fail(`"schema" of "${decl.name}" must be the path of a JSON Schema file (.json)`);
  if (errors > 0) return undefined;
  return {
    id: targetId(decl.name), index, decl, deps: [], dependents: [], outputs,
    inputs: inputs.map((i) => normalize(i)), run: decl.spec.run, params, resources,
    ...(schema === undefined ? {} : {schema: normalize(schema)}),
  };
}

function checkOutputs(decl: TargetDecl, fail: (m: string, h?: string) => void): OutputDecl[] {
  const raw = decl.spec.out;
  const list = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? (raw as unknown[]) : [];
  if (list.length === 0) {
    fail(`target "${decl.name}" declares no output`, 'set "out" to a file path, a list of paths, or a directory ending in "/"');
    return [];
  }
  const outputs: OutputDecl[] = [];
  for (const o of list) {
    if (typeof o !== 'string' || o === '') {
      fail(`outputs of "${decl.name}" must be non-empty paths`);
      continue;
    }
    const dir = o.endsWith('/');
    const norm = normalize(dir ? o.slice(0, -1) : o);
    if (isAbsolute(norm) || norm === '..' || norm.startsWith('../') || norm === '.' || norm.startsWith('.stage')) {
      fail(`output "${o}" of "${decl.name}" must be a path inside the workspace`, 'write outputs relative to the Stagefile, outside .stage/');
      continue;
    }
    outputs.push({path: relPath(norm), dir});
  }
  return outputs;
}

/** The first part of a value that is not plain JSON, with its path, or undefined. */
function findNonJson(v: unknown, path: string): {path: string; what: string} | undefined {
  switch (typeof v) {
    case 'undefined':
      return path === 'params' ? undefined : {path, what: 'undefined'};
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(v) ? undefined : {path, what: String(v)};
    case 'bigint':
    case 'symbol':
    case 'function':
      return {path, what: `a ${typeof v}`};
    case 'object': {
      if (v === null) return undefined;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const bad = findNonJson(v[i], `${path}[${i}]`);
          if (bad) return bad;
        }
        return undefined;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) return {path, what: `an instance of ${(v as object).constructor.name}`};
      for (const [k, x] of Object.entries(v)) {
        const bad = findNonJson(x, `${path}.${k}`);
        if (bad) return bad;
      }
      return undefined;
    }
  }
}
