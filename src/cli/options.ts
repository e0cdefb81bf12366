import {err, ok, type Result} from '../util/result.js';

/**
 * The CLI described as data. `parseArgv` reads it directly, which keeps argument parsing off the
 * start-up path of a no-op build (loading yargs costs ~100 ms here, half a make run); yargs
 * renders `--help` from the same table.
 */
export type CommandName = 'build' | 'watch' | 'plan' | 'why' | 'status' | 'graph' | 'clean' | 'cache-status' | 'cache-verify' | 'cache-gc' | 'exec' | 'world-serve' | 'world-train' | 'help' | 'version';

export interface OptionSpec {
  readonly name: string;
  readonly alias?: string;
  readonly type: 'string' | 'number' | 'boolean';
  readonly describe: string;
  readonly choices?: readonly string[];
}

export interface CommandSpec {
  readonly name: CommandName;
  /** As typed: `cache gc` is two words. */
  readonly words: readonly string[];
  readonly usage: string;
  readonly describe: string;
  readonly positional: 'none' | 'targets' | 'one-target';
  readonly options: readonly OptionSpec[];
  readonly examples: readonly (readonly [string, string])[];
}

export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  {name: 'file', alias: 'f', type: 'string', describe: 'the Stagefile (default: Stagefile.ts here or in a parent directory)'},
  {name: 'cache-dir', type: 'string', describe: 'the store directory (default: $STAGE_CACHE_DIR, the user config, or ~/.cache/stage)'},
  {name: 'cache-read-only', type: 'boolean', describe: 'read the store directory but never write it (a lab cache used as a consumer); builds go to .stage/cache'},
  {name: 'reporter', type: 'string', choices: ['human', 'json'], describe: 'human-readable output, or NDJSON events on stdout'},
  {name: 'profile', type: 'string', describe: 'the profile the Stagefile is evaluated for (e.g. paper, demo)'},
];

const JOBS: OptionSpec = {name: 'jobs', alias: 'j', type: 'number', describe: 'run at most N targets at once (default: number of cores)'};
const JSON_OUT: OptionSpec = {name: 'json', type: 'boolean', describe: 'print JSON instead of text'};

export const COMMANDS: readonly CommandSpec[] = [
  {name: 'build', words: ['build'], usage: 'build [targets..]', positional: 'targets', describe: 'build targets and what they need (all targets if none named)',
    options: [JOBS, {name: 'keep-going', alias: 'k', type: 'boolean', describe: 'keep building what does not depend on a failure'},
      {name: 'budget', type: 'string', describe: 'dollars this build may spend on model calls; no call starts that could pass it'},
      {name: 'batch', type: 'boolean', describe: 'send every API target\'s calls through the Batch API (half price, results within 24 h)'},
      {name: 'yes', alias: 'y', type: 'boolean', describe: 'spend above the confirmation threshold without asking'}],
    examples: [['stage build', 'build everything'], ['stage build "gold/*" -j 4', 'build a family, four at a time']]},
  {name: 'watch', words: ['watch'], usage: 'watch [targets..]', positional: 'targets', describe: 'build targets, then again whenever a file their build depends on changes',
    options: [JOBS, {name: 'keep-going', alias: 'k', type: 'boolean', describe: 'keep building what does not depend on a failure'},
      {name: 'debounce', type: 'number', describe: 'milliseconds of quiet after a change before building (default: 100)'},
      {name: 'budget', type: 'string', describe: 'dollars each build may spend on model calls; no call starts that could pass it'},
      {name: 'yes', alias: 'y', type: 'boolean', describe: 'build above the confirmation threshold without asking (otherwise a line "y" on stdin confirms each such build)'},
      {name: 'allow-slurm', type: 'boolean', describe: 'let builds submit SLURM jobs (without it, a build that needs the cluster waits)'}],
    examples: [['stage watch winrates', 'rebuild the win rates whenever a prompt, rule or input changes'], ['stage watch --reporter json --debounce 300', 'NDJSON events, for scripts']]},
  {name: 'plan', words: ['plan'], usage: 'plan [targets..]', positional: 'targets', describe: 'show what a build would do and why, without doing it',
    options: [JSON_OUT], examples: [['stage plan winrates', 'what building winrates would run'], ['stage plan --json', 'the plan for machines']]},
  {name: 'why', words: ['why'], usage: 'why <target>', positional: 'one-target', describe: 'explain which part of a target\'s key changed since it was built',
    options: [JSON_OUT], examples: [['stage why gold/A', 'why gold/A would run']]},
  {name: 'status', words: ['status'], usage: 'status [targets..]', positional: 'targets', describe: 'list targets and whether each is up to date',
    options: [JSON_OUT], examples: [['stage status', 'every target']]},
  {name: 'graph', words: ['graph'], usage: 'graph [targets..]', positional: 'targets', describe: 'print the dependency graph',
    options: [{name: 'format', type: 'string', choices: ['dot', 'mermaid'], describe: 'output format (default: dot)'}],
    examples: [['stage graph --format mermaid', 'a Mermaid flowchart']]},
  {name: 'clean', words: ['clean'], usage: 'clean [targets..]', positional: 'targets', describe: 'remove targets\' outputs from the workspace (the store keeps them)',
    options: [], examples: [['stage clean', 'remove every output']]},
  {name: 'exec', words: ['exec'], usage: 'exec <target>', positional: 'one-target', describe: 'run one target\'s rule (or one shard) into a staging directory: what a SLURM job runs',
    options: [{name: 'key', type: 'string', describe: 'the key the driver computed; the job refuses if the inputs changed since'},
      {name: 'staging', type: 'string', describe: 'where to write the outputs'},
      {name: 'shard', type: 'string', describe: 'which shard to run (a job array passes $SLURM_ARRAY_TASK_ID)'},
      {name: 'log', type: 'string', describe: 'the rule\'s log file (default: <staging>/rule.log)'}],
    examples: [['stage exec sim/m1/B --key xxh64:… --staging .stage/slurm/…/staging --shard 3', 'run shard 3 of sim/m1/B']]},
  {name: 'cache-status', words: ['cache', 'status'], usage: 'cache status', positional: 'none', describe: 'what the store holds, what its model calls cost, and who is building what in it now',
    options: [JSON_OUT], examples: [['stage cache status', 'size, entries, memo, live leases']]},
  {name: 'cache-verify', words: ['cache', 'verify'], usage: 'cache verify', positional: 'none', describe: 're-hash every blob and check every action entry; remove damaged ones',
    options: [JSON_OUT], examples: [['stage cache verify', 'check the store']]},
  {name: 'cache-gc', words: ['cache', 'gc'], usage: 'cache gc', positional: 'none', describe: 'evict least recently used entries down to a size',
    options: [{name: 'max-size', type: 'string', describe: 'target size, e.g. 500M or 20G (default: 10G)'},
      {name: 'include-live', type: 'boolean', describe: 'also evict entries the current Stagefile uses'}],
    examples: [['stage cache gc --max-size 5G', 'shrink the store to 5 GB']]},
  {name: 'world-serve', words: ['world', 'serve'], usage: 'world serve', positional: 'none', describe: 'serve the embedded model world (OpenAI-compatible, on loopback) for the demo profile and tests',
    options: [{name: 'port', type: 'string', describe: 'port to listen on; 0 (the default) picks a free one'},
      {name: 'policy', type: 'string', describe: 'the questioner policy: a policy file, a checkpoint directory, or m0 (the default)'}],
    examples: [['stage world serve --port 0', 'serve m0; prints {"baseURL": ...} once listening'], ['stage world serve --port 8001 --policy ckpt/m1', 'serve the m1 questioner']]},
  {name: 'world-train', words: ['world', 'train'], usage: 'world train', positional: 'none', describe: 'fit a model-world questioner policy to SFT data (the demo profile\'s finetuning)',
    options: [{name: 'data', type: 'string', describe: 'SFT examples: JSONL or a JSON array of message lists'},
      {name: 'base', type: 'string', describe: 'the policy to start from: m0, a policy file or a checkpoint directory'},
      {name: 'out', type: 'string', describe: 'the checkpoint directory to write (policy.json, config.json)'},
      {name: 'lr', type: 'string', describe: 'step size (default 1)'},
      {name: 'epochs', type: 'number', describe: 'passes over the data, one step per question in each (default 1)'}],
    examples: [['stage world train --data sft/m0-A.jsonl --base m0 --out ckpt/m1', 'train m1 from m0\'s kept conversations']]},
];

export interface Options {
  readonly command: CommandName;
  readonly targets: readonly string[];
  readonly flags: Readonly<Record<string, string | number | boolean>>;
}

/** Parses argv into a command, its targets and its flags; a mistake comes back as a message. */
export function parseArgv(argv: readonly string[]): Result<Options, string> {
  const words = argv.filter((a) => !a.startsWith('-'));
  if (argv.includes('--version')) return ok({command: 'version', targets: [], flags: {}});
  let spec = COMMANDS.find((c) => c.words.every((w, i) => words[i] === w));
  const explicit = spec !== undefined;
  spec ??= COMMANDS[0]!;
  if (argv.includes('--help') || argv.includes('-h') || words[0] === 'help') return ok({command: 'help', targets: explicit ? [spec.name] : [], flags: {}});
  if (!explicit && words[0] === 'cache') return err(`unknown cache command "${words[1] ?? ''}": use "cache status", "cache verify" or "cache gc"`);
  if (!explicit && words[0] === 'world') return err(`unknown world command "${words[1] ?? ''}": use "world serve" or "world train"`);
  const known = [...GLOBAL_OPTIONS, ...spec.options];
  const flags: Record<string, string | number | boolean> = {};
  const positionals: string[] = [];
  let skipWords = explicit ? spec.words.length : 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      if (skipWords > 0) skipWords--;
      else positionals.push(a);
      continue;
    }
    const [rawName, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const name = rawName.replace(/^--?/, '');
    const opt = known.find((o) => o.name === name || o.alias === name || (o.type === 'boolean' && `no-${o.name}` === name));
    if (!opt) return err(`unknown option ${rawName} for "stage ${spec.words.join(' ')}" (see stage ${spec.words.join(' ')} --help)`);
    if (opt.type === 'boolean') {
      flags[opt.name] = inline === undefined ? !name.startsWith('no-') : inline !== 'false';
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) return err(`option --${opt.name} needs a value`);
    if (opt.choices && !opt.choices.includes(value)) return err(`--${opt.name} must be one of ${opt.choices.join(', ')}, not "${value}"`);
    if (opt.type === 'number') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) return err(`--${opt.name} needs a whole number of at least 1, not "${value}"`);
      flags[opt.name] = n;
    } else flags[opt.name] = value;
  }
  if (spec.positional === 'none' && positionals.length > 0) return err(`"stage ${spec.words.join(' ')}" takes no targets, got ${positionals.join(' ')}`);
  if (spec.positional === 'one-target' && positionals.length !== 1) return err(`"stage ${spec.words.join(' ')}" needs exactly one target`);
  return ok({command: spec.name, targets: positionals, flags});
}
