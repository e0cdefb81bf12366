import type {CallEstimate, CallResult, CallSpec, ModelDecl, Provider} from '../llm/types.js';
import {captureCallSite, type CallSite} from './call-site.js';

/**
 * The Stagefile DSL. Declarations only record what was asked and where; everything is checked
 * later by analysis, so one load reports every mistake at once with its line.
 */

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | {readonly [k: string]: JsonValue};

/** What an in-process rule function receives. */
export interface RuleContext<P> {
  /** The target's name. */
  readonly target: string;
  readonly params: P;
  /** Absolute paths of the target's declared input files, globs expanded, sorted. */
  readonly inputs: readonly string[];
  /** Absolute output paths of each dependency, by dependency name. */
  readonly deps: Readonly<Record<string, readonly string[]>>;
  /** Where to write the first declared output (a staging path; the engine commits it). */
  readonly out: string;
  /** Staging paths of every declared output, in declaration order. */
  readonly outs: readonly string[];
  /** The workspace root (the Stagefile's directory). */
  readonly root: string;
  /** Appends a line to the target's log. */
  readonly log: (line: string) => void;
  /** Aborted when the build is interrupted; long work should stop promptly. */
  readonly signal: AbortSignal;
  /** Shows a line to the user when the target finishes (a result worth seeing, like a win rate). */
  readonly report: (line: string) => void;
  /** For a sharded target: which part of the work this run does. Outputs are concatenated in shard order. */
  readonly shard?: {readonly index: number; readonly count: number};
}

export type RuleFn<P> = (ctx: RuleContext<P>) => Promise<void> | void;

/** A TypeScript rule. Its module's source (and local imports) is part of every key that uses it. */
export interface Rule<P = JsonValue> {
  readonly kind: 'rule';
  readonly id: string;
  readonly fn: RuleFn<P>;
  readonly site: CallSite;
}

/**
 * A rule made of model calls. `requests` lists every call from the inputs (pure and cheap: a plan
 * runs it to count what is already paid for); the engine makes the calls through the memo, the
 * rate limiter and the budget; `assemble` writes the output from the answers.
 */
export interface LlmRule<P = JsonValue> {
  readonly kind: 'llm';
  readonly id: string;
  /** The model roles this rule calls; their model identities enter the key. */
  readonly roles: readonly string[];
  readonly requests: (ctx: RuleContext<P>) => readonly CallSpec[] | Promise<readonly CallSpec[]>;
  readonly assemble: (ctx: RuleContext<P>, results: readonly CallResult[]) => void | Promise<void>;
  /** What the plan assumes while the inputs do not exist yet. */
  readonly estimate?: (params: P) => CallEstimate;
  /** How many items may end without an answer (content filter, refusal…) before the target fails. */
  readonly maxFailures?: number;
  /** Whether the Batch API may serve this rule (half price, up to 24 h). */
  readonly batchable?: boolean;
  readonly site: CallSite;
}

export type LlmRuleSpec<P> = Omit<LlmRule<P>, 'kind' | 'id' | 'site'>;

/** A subprocess: either a shell script or an argv. `$in`, `$out`, `$outs` are expanded. */
export interface Command {
  readonly kind: 'command';
  readonly shell?: string;
  readonly argv?: readonly string[];
}

export interface TargetSpec<P> {
  /**
   * Targets whose outputs this one reads; their output hashes enter this target's key. A name
   * (string) may refer to a target declared further down.
   */
  readonly deps?: readonly (Target | string)[];
  /** Source files or globs, relative to the Stagefile; their contents enter the key. */
  readonly inputs?: readonly string[];
  /** Parameters for the rule; canonical JSON enters the key. */
  readonly params?: P;
  /** Output paths relative to the Stagefile; a trailing "/" declares a directory. */
  readonly out: string | readonly string[];
  readonly run: Rule<P> | LlmRule<P> | Command;
  /** Pool weights, e.g. `{gpu: 1}`; every target also takes one slot of `-j`. */
  readonly resources?: Readonly<Record<string, number>>;
  readonly description?: string;
  /** Where the rule runs: in this process (default), or as a SLURM job (GPU work). Never in the key. */
  readonly executor?: 'local' | 'slurm';
  /** What a job of this target asks SLURM for; `stage plan` counts GPU-hours from it. Never in the key. */
  readonly slurm?: SlurmRequest;
  /**
   * Splits the work into this many shards: the rule runs once per shard (`ctx.shard`), as one job
   * array on SLURM, and each output file is the shards' outputs concatenated in order.
   */
  readonly shards?: number;
  /**
   * The model server(s) the job starts next to the rule (vLLM, or a stand-in), each with its URL
   * in its `urlEnv`; several when, say, the questioner and the roleplayer need their own GPUs.
   */
  readonly server?: ServerSpec | readonly ServerSpec[];
  /**
   * A JSON Schema (path relative to the Stagefile) every output is checked against before it is
   * stored: a `.json` output as a whole, a `.jsonl` output line by line. Its content is in the key.
   */
  readonly schema?: string;
}

/** Per-job resources of a SLURM target. */
export interface SlurmRequest {
  readonly gpus?: number;
  readonly gpuType?: string;
  readonly cpus?: number;
  /** Memory per node, SLURM syntax: `64G`. */
  readonly mem?: string;
  /** Wall-clock limit, SLURM syntax: `4:00:00`, `1-00:00:00`. */
  readonly time?: string;
  /** Times a failed job (or shard) is resubmitted before the target fails. */
  readonly retries?: number;
  /** At most this many shards at once (the array's `%N`). */
  readonly maxParallel?: number;
}

export interface ServerSpec {
  /** The server's argv; `{port}` is replaced by the port the job picks. */
  readonly command: readonly string[];
  /** The environment variable the rule reads the server's base URL from. */
  readonly urlEnv: string;
  /** Appended to `http://127.0.0.1:PORT`, e.g. `/v1`. */
  readonly urlPath?: string;
  readonly startupTimeoutSeconds?: number;
  /**
   * How many of the job's GPUs this server uses. Servers that say so get disjoint ones, in the
   * order they are listed (their CUDA_VISIBLE_DEVICES); one that does not sees all of the job's.
   * Where a server runs is not what it answers, so this is not part of the key.
   */
  readonly gpus?: number;
}

/** A handle to a declared target, used to state dependencies. */
export interface Target {
  readonly kind: 'target';
  readonly name: string;
}

export interface TargetDecl {
  readonly name: string;
  readonly spec: TargetSpec<unknown>;
  readonly site: CallSite;
  readonly handle: Target;
}

export interface PoolDecl {
  readonly name: string;
  readonly depth: number;
  readonly site: CallSite;
}

export interface ModelRoleDecl extends ModelDecl {
  readonly site: CallSite;
}

/** Everything one evaluation of a Stagefile declared. */
export interface Registry {
  readonly targets: TargetDecl[];
  readonly pools: PoolDecl[];
  readonly models: ModelRoleDecl[];
  /** The profile the Stagefile was evaluated for (`--profile`). */
  profile: string | undefined;
}

// A global slot rather than a module variable: a Stagefile that reaches this module through a
// second path (a symlinked checkout, a bundled copy) still declares into the same registry.
const SLOT = Symbol.for('stage.registry');
type Slots = {[SLOT]?: Registry};

function registry(): Registry {
  const g = globalThis as Slots;
  return (g[SLOT] ??= {targets: [], pools: [], models: [], profile: undefined});
}

/** Starts a fresh registry for one evaluation of a Stagefile and returns it. */
export function resetRegistry(profile?: string): Registry {
  const fresh: Registry = {targets: [], pools: [], models: [], profile};
  (globalThis as Slots)[SLOT] = fresh;
  return fresh;
}

/** Declares a target. Families are ordinary loops over this function. */
export function target<P = JsonValue>(name: string, spec: TargetSpec<P>): Target {
  const handle: Target = {kind: 'target', name};
  registry().targets.push({name, spec: spec as TargetSpec<unknown>, site: captureCallSite(target), handle});
  return handle;
}

/** Declares a TypeScript rule with a stable id. */
export function rule<P = JsonValue>(id: string, fn: RuleFn<P>): Rule<P> {
  return {kind: 'rule', id, fn, site: captureCallSite(rule)};
}

/** A shell command run with `sh -c`. */
export function sh(script: string): Command {
  return {kind: 'command', shell: script};
}

/** A command run directly, without a shell. */
export function cmd(argv: readonly string[]): Command {
  return {kind: 'command', argv};
}

/** Declares a named resource pool: at most `depth` units of it are in use at once. */
export function pool(name: string, depth: number): void {
  registry().pools.push({name, depth, site: captureCallSite(pool)});
}

/** Declares an LLM rule: its calls, and how their answers become the output. */
export function llmRule<P = JsonValue>(id: string, spec: LlmRuleSpec<P>): LlmRule<P> {
  return {kind: 'llm', id, ...spec, site: captureCallSite(llmRule)};
}

/**
 * Declares who plays a model role: the provider family and the dated model snapshot. Where it is
 * served (URL, Azure deployment, key) is per user, in the config file.
 */
export function model(role: string, spec: {provider: Provider; model: string; baseURL?: string}): void {
  registry().models.push({role, ...spec, site: captureCallSite(model)});
}

/**
 * The profile this evaluation is for (`stage build --profile demo`), or `fallback` when none was
 * given. Counts, models and executors usually depend on it.
 */
export function profile(fallback: string): string {
  return registry().profile ?? fallback;
}
