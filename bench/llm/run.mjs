#!/usr/bin/env node
// Benchmark of the model-call rate limiter (see bench/llm/bench.ts for what it measures).
//
//   npm run build && node bench/llm/run.mjs [--rpm 120 --tpm 12000 --window-ms 4000 --windows 3]
//
// Prints a Markdown report and writes it to bench/llm/results.md. The loopback server is
// TypeScript, so the benchmark itself runs under the project's vite-node; the client processes
// it starts load the compiled limiter from lib/, which must be built and current.
import {spawn} from 'node:child_process';
import {readdirSync, statSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const src = join(repo, 'src', 'llm', 'limiter');
for (const name of readdirSync(src).filter((n) => n.endsWith('.ts'))) {
  const built = statSync(join(repo, 'lib', 'llm', 'limiter', name.replace(/\.ts$/, '.js')), {throwIfNoEntry: false});
  if (!built || built.mtimeMs < statSync(join(src, name)).mtimeMs) {
    process.stderr.write(`lib/llm/limiter is missing or older than src/llm/limiter: run \`npm run build\` first\n`);
    process.exit(1);
  }
}

const child = spawn(join(repo, 'node_modules', '.bin', 'vite-node'), ['--script', join(repo, 'bench', 'llm', 'bench.ts'), ...process.argv.slice(2)], {
  cwd: repo,
  stdio: 'inherit',
});
child.on('close', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
