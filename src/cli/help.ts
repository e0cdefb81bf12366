import {COMMANDS, GLOBAL_OPTIONS, type CommandSpec, type OptionSpec} from './options.js';

/**
 * Renders help with yargs from the option table. yargs is imported only here: `--help` can
 * afford its start-up cost, a no-op build cannot.
 */
export async function renderHelp(command: string | undefined): Promise<string> {
  const {default: yargs} = await import('yargs');
  const y = yargs([]).scriptName('stage').wrap(Math.min(100, process.stdout.columns ?? 100)).version(false).help(false);
  const addOptions = (b: ReturnType<typeof yargs>, opts: readonly OptionSpec[]): void => {
    for (const o of opts) b.option(o.name, {alias: o.alias, type: o.type, describe: o.describe, choices: o.choices ? [...o.choices] : undefined});
  };
  addOptions(y, GLOBAL_OPTIONS);
  const spec: CommandSpec | undefined = COMMANDS.find((c) => c.name === command);
  if (spec) {
    y.usage(`stage ${spec.usage}\n\n${spec.describe}`);
    addOptions(y, spec.options);
    for (const [cmd, what] of spec.examples) y.example(cmd, what);
  } else {
    y.usage('stage <command> [targets..]\n\nA make-style build system for pipelines of API calls, GPU jobs and many iterations.');
    for (const c of COMMANDS) y.command(c.usage.replace(/^cache /, 'cache-'), c.describe);
    y.example('stage plan winrates', 'what would run and why');
    y.example('stage build winrates', 'build it, resuming where it stopped');
    y.example('stage why gold/A', 'what changed since gold/A was built');
  }
  return (await y.getHelp()).replace(/cache-(verify|gc)/g, 'cache $1');
}
