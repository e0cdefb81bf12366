/**
 * `stage watch [targets..]`: the command line of the watcher. Thin by design: the state machine
 * and its driver live in src/watch/.
 */
import {watchTargets} from '../watch/watcher.js';
import type {CommandEnv} from './commands.js';
import {bool, budgetFlag, str} from './flags.js';
import type {Options} from './options.js';

const DEFAULT_DEBOUNCE_MS = 100;


/** Watches until Ctrl-C or SIGTERM; returns the exit code (130 then, 2 if the start is wrong). */
export async function runWatch(opts: Options, env: CommandEnv): Promise<number> {
  const budget = budgetFlag(opts.flags['budget']);
  if (!budget.ok) {
    env.streams.err.write(`stage: ${budget.message}\n`);
    return 2;
  }
  return watchTargets({
    open: {
      cwd: env.cwd, file: str(opts.flags['file']), cacheDir: str(opts.flags['cache-dir']), profile: str(opts.flags['profile']),
      cacheReadOnly: bool(opts.flags['cache-read-only']),
    },
    targets: opts.targets,
    jobs: env.jobs,
    keepGoing: opts.flags['keep-going'] === true,
    budget: budget.value,
    yes: opts.flags['yes'] === true,
    allowSlurm: opts.flags['allow-slurm'] === true,
    debounceMs: typeof opts.flags['debounce'] === 'number' ? opts.flags['debounce'] : DEFAULT_DEBOUNCE_MS,
    emit: env.logger.log.bind(env.logger),
    signal: env.signal,
    stdin: process.stdin,
  });
}
