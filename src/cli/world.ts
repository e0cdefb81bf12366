/**
 * `stage world serve|train`: the embedded model world from the command line, for the demo
 * profile's jobs (which start a server as a GPU job starts vLLM) and for people trying it out.
 * Thin by design: the world itself lives in src/world/.
 */
import {resolve} from 'node:path';
import type {CommandEnv} from './commands.js';
import type {Options} from './options.js';
import {trainFiles} from '../world/files.js';
import {startWorldServer} from '../world/server.js';
import {DEFAULT_TRAIN_OPTIONS} from '../world/trainer.js';

import {str} from './flags.js';

/** Runs `world serve` or `world train`; returns the exit code. */
export async function runWorld(opts: Options, env: CommandEnv): Promise<number> {
  const fail = (message: string): number => {
    env.streams.err.write(`stage ${opts.command.replace('-', ' ')}: ${message}\n`);
    return 2;
  };
  if (opts.command === 'world-serve') {
    const portText = str(opts.flags['port']) ?? '0';
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) return fail(`--port needs a port number from 0 to 65535, not "${portText}"`);
    const policy = str(opts.flags['policy']);
    let server;
    try {
      server = await startWorldServer({port, policy: policy === undefined || policy === 'm0' ? policy : resolve(env.cwd, policy)});
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e));
    }
    // One JSON line, so a parent process (a job script, a test) can read where to connect.
    env.streams.out.write(`${JSON.stringify({baseURL: server.baseURL, port: server.port, fingerprint: server.fingerprint})}\n`);
    await new Promise<void>((done) => {
      if (env.signal.aborted) done();
      else env.signal.addEventListener('abort', () => done(), {once: true});
    });
    await server.close();
    return 0;
  }
  const data = str(opts.flags['data']);
  const base = str(opts.flags['base']);
  const out = str(opts.flags['out']);
  if (!data || !base || !out) return fail('--data, --base and --out are all required');
  const lrText = str(opts.flags['lr']);
  const lr = lrText === undefined ? DEFAULT_TRAIN_OPTIONS.lr : Number(lrText);
  if (!(Number.isFinite(lr) && lr > 0)) return fail(`--lr needs a positive number, not "${lrText ?? ''}"`);
  const epochs = typeof opts.flags['epochs'] === 'number' ? opts.flags['epochs'] : DEFAULT_TRAIN_OPTIONS.epochs;
  const r = trainFiles({data: resolve(env.cwd, data), base: base === 'm0' ? base : resolve(env.cwd, base), out: resolve(env.cwd, out), lr, epochs});
  if (!r.ok) return fail(r.error);
  const decisions = Object.values(r.value.decisions).reduce((s, n) => s + n, 0);
  env.streams.out.write(`trained on ${decisions} questions from ${r.value.examples} examples -> ${resolve(env.cwd, out)}/policy.json\n`);
  return 0;
}
