import {sep} from 'node:path';
import type {ContentHash, ActionKey} from '../ids.js';
import {STAGE_CLI} from '../install.js';
import {explainChange} from '../fingerprint/explain.js';
import {expandInputs} from '../fingerprint/inputs.js';
import {KEY_SCHEMA, keyOf, type KeyComponents} from '../fingerprint/key.js';
import type {Node} from '../graph/graph.js';
import type {ServerSpec} from '../config/define.js';
import {listOf} from '../util/list.js';
import type {ActionEntry} from '../store/store.js';
import type {BuildContext} from './context.js';

/** What a target needs, decided from its key before anything runs; plan and build share it. */
export type Decision =
  /** Key and workspace outputs unchanged. */
  | {kind: 'fresh'; key: ActionKey; digest: ContentHash}
  /** The store has the outputs for this key. */
  | {kind: 'restore'; key: ActionKey; entry: ActionEntry; components: KeyComponents; inputs: readonly string[]}
  /** The rule must run. */
  | {kind: 'run'; key: ActionKey; components: KeyComponents; inputs: readonly string[]; reasons: string[]}
  /** A declared input file does not exist. */
  | {kind: 'missing-input'; path: string};

/**
 * Computes a target's key from its inputs' content hashes and its dependencies' output digests,
 * then looks for it in the workspace and the store. `depDigest` returns each dependency's digest
 * as resolved in this build. Reading the store is the only side effect (its last-use stamp).
 */
export function decide(ctx: BuildContext, node: Node, depDigest: (index: number) => ContentHash, onCacheInfo: (m: string) => void): Decision {
  const {state, store, graph} = ctx;
  const inputs = expandInputs(graph.root, node.inputs);
  const inputHashes: Record<string, ContentHash> = {};
  for (const p of node.schema === undefined ? inputs : [...inputs, node.schema]) {
    const h = state.hash(p);
    if (h === undefined) return {kind: 'missing-input', path: p};
    inputHashes[p] = h;
  }
  const deps: Record<string, ContentHash> = {};
  for (const d of node.deps) deps[graph.nodes[d]!.id] = depDigest(d);
  const run = node.run;
  const components: KeyComponents = {
    schema: KEY_SCHEMA,
    rule: run.kind === 'command'
      ? {kind: 'command', text: run.shell ?? JSON.stringify(run.argv ?? [])}
      : {kind: run.kind, id: run.id, code: ctx.ruleCode.hash(run)},
    params: node.params,
    inputs: inputHashes,
    deps,
    outputs: node.outputs.map((o) => (o.dir ? `${o.path}/` : o.path)),
    models: run.kind === 'llm' ? modelIdentities(ctx, run.roles) : undefined,
    shards: (node.decl.spec.shards ?? 1) > 1 ? node.decl.spec.shards : undefined,
    server: serverIdentity(node.decl.spec.server, graph.root),
  };
  const key = keyOf(components);
  const record = state.target(node.id);
  if (record && record.key === key && outputsIntact(ctx, node, record.files)) return {kind: 'fresh', key, digest: record.digest};
  const found = store.readAction(key, components.outputs);
  if (found.kind === 'hit') return {kind: 'restore', key, entry: found.entry, components, inputs};
  if (found.kind === 'corrupt') {
    onCacheInfo(`${found.problem}; it was removed and ${node.id} will be rebuilt`);
    store.removeAction(key);
  }
  return {kind: 'run', key, components, inputs, reasons: reasonsToRun(ctx, node, components)};
}

/** Whether every recorded output is in the workspace with its recorded contents. */
function outputsIntact(ctx: BuildContext, node: Node, files: readonly (readonly [string, ContentHash])[]): boolean {
  for (const [path, hash] of files) if (ctx.state.hash(path) !== hash) return false;
  return files.length > 0 || node.outputs.every((o) => o.dir);
}

/** Why a target must run, compared with what the workspace last built for it. */
export function reasonsToRun(ctx: BuildContext, node: Node, components: KeyComponents): string[] {
  const record = ctx.state.target(node.id);
  if (!record) return ['never built in this workspace, and not in the store'];
  const prev = ctx.store.readAction(record.key);
  if (prev.kind !== 'hit') return ['the previous result is no longer in the store'];
  const reasons = explainChange(prev.entry.components, components);
  return reasons.length > 0 ? reasons : ['outputs were modified or deleted in the workspace, and the store no longer has them'];
}

function modelIdentities(ctx: BuildContext, roles: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of roles) {
    const m = ctx.graph.models.get(r);
    if (m) out[r] = m.model;
  }
  return out;
}

/**
 * The commands of a target's model servers, in order: which models answer is part of the result.
 * Where things are installed is not: this Node and this stage are written `node` and `stage`, and
 * paths inside the workspace relative to it, so two checkouts on a lab's cluster share results
 * (and a job whose node binary lives elsewhere recomputes the driver's key).
 */
function serverIdentity(server: ServerSpec | readonly ServerSpec[] | undefined, root: string): readonly string[] | undefined {
  if (server === undefined) return undefined;
  const inside = root.endsWith(sep) ? root : root + sep;
  const portable = (arg: string): string => {
    if (arg === process.execPath) return 'node';
    if (arg === STAGE_CLI) return 'stage';
    return arg.startsWith(inside) ? `./${arg.slice(inside.length).split(sep).join('/')}` : arg;
  };
  // One server keeps its plain argv (as keys always had); more are joined by a separator word.
  return listOf(server).flatMap((s, i) => (i === 0 ? s.command.map(portable) : ['--and-server--', ...s.command.map(portable)]));
}
