import {setMaxListeners} from 'node:events';
import {availableParallelism} from 'node:os';
import {renderHelp} from './cli/help.js';
import {parseArgv, type Options} from './cli/options.js';
import {runCommand} from './cli/commands.js';
import {HumanLogger} from './report/human-logger.js';
import {JsonLogger} from './report/json-logger.js';
import type {Logger, Streams} from './report/logger.js';
import {STAGE_VERSION} from './version.js';

/**
 * Entry point: parse, pick a logger, run one command, map the outcome to an exit code
 * (0 done, 1 a target failed, 2 the Stagefile or the command line is wrong, 130 interrupted).
 */
export async function main(argv: readonly string[], streams: Streams = {out: process.stdout, err: process.stderr}): Promise<number> {
  const parsed = parseArgv(argv);
  if (!parsed.ok) {
    streams.err.write(`stage: ${parsed.error}\n`);
    return 2;
  }
  const opts: Options = parsed.value;
  if (opts.command === 'version') {
    streams.out.write(`${STAGE_VERSION}\n`);
    return 0;
  }
  if (opts.command === 'help') {
    streams.out.write(`${await renderHelp(opts.targets[0])}\n`);
    return 0;
  }
  const logger: Logger = opts.flags['reporter'] === 'json' ? new JsonLogger(streams) : new HumanLogger(streams);
  const controller = new AbortController();
  // Every running rule and in-flight model call listens on this one signal.
  setMaxListeners(0, controller.signal);
  let interrupts = 0;
  const onSignal = (): void => {
    // The first Ctrl-C stops cleanly (children terminated, nothing partial stored); a second
    // one leaves at once.
    if (++interrupts > 1) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runCommand(opts, {
      cwd: process.cwd(), streams, logger, signal: controller.signal,
      jobs: typeof opts.flags['jobs'] === 'number' ? opts.flags['jobs'] : availableParallelism(),
    });
  } finally {
    logger.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
