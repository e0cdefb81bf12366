/**
 * Standalone use of the OpenAI-compatible test server, e.g. to point a hand-run `stage`
 * invocation or a spawned CLI at it.
 *
 * Import `runOpenAIServer` from a script or test, or run this file directly through a
 * TypeScript-aware runner from the project's own dependencies:
 *
 *   ./node_modules/.bin/vite-node --script test/util/openai-server-main.ts --rpm 20 --window-ms 10000
 *
 * It prints one JSON line `{"baseURL": "...", "port": N}` on stdout once listening (so a
 * parent process can read the address), and closes cleanly on SIGINT/SIGTERM. Send signals to
 * that node process itself: an `npx` wrapper in between may exit without passing them on.
 */
import {pathToFileURL} from 'node:url';

import {startOpenAIServer, type OpenAIServer, type OpenAIServerOptions} from './openai-server.js';

/** Parses `--rpm N --tpm N --window-ms N --hold-batches --complete-after-polls N --api-key K`. */
export function parseServerArgs(argv: readonly string[]): OpenAIServerOptions {
  const options: OpenAIServerOptions = {};
  const number = (flag: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${flag} needs a non-negative number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    switch (flag) {
      case '--rpm':
        options.rpm = number(flag, argv[++i]);
        break;
      case '--tpm':
        options.tpm = number(flag, argv[++i]);
        break;
      case '--window-ms':
        options.windowMs = number(flag, argv[++i]);
        break;
      case '--hold-batches':
        options.batch = {...options.batch, hold: true};
        break;
      case '--complete-after-polls':
        options.batch = {...options.batch, completeAfterPolls: number(flag, argv[++i])};
        break;
      case '--api-key': {
        const key = argv[++i];
        if (!key) throw new Error('--api-key needs a value');
        options.apiKeys = [...(options.apiKeys ?? []), key];
        break;
      }
      default:
        throw new Error(`unknown option ${String(flag)}`);
    }
  }
  return options;
}

/**
 * Starts the server from command-line style arguments, announces the address on `out` and
 * closes it on SIGINT/SIGTERM. Returns the running server.
 */
export async function runOpenAIServer(
  argv: readonly string[],
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<OpenAIServer> {
  const server = await startOpenAIServer(parseServerArgs(argv));
  out(JSON.stringify({baseURL: server.baseURL, port: server.port}));
  const stop = () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    void server.close();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return server;
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(invokedPath).href) {
  runOpenAIServer(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
