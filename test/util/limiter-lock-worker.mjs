#!/usr/bin/env node
// A process that uses the limiter's lock file (the compiled one in lib/), for the lock tests:
//
//   node test/util/limiter-lock-worker.mjs hold <lockfile>
//       takes the lock, prints "locked", then never lets go (the test kills it with -9);
//   node test/util/limiter-lock-worker.mjs count <lockfile> <counterfile> <n>
//       n times: take the lock, read the counter, write it plus one, let go. Any overlap of
//       two holders loses an increment, so the final count shows whether the lock excludes.
import {readFileSync, writeFileSync} from 'node:fs';
import {FileLock} from '../../lib/llm/limiter/index.js';

const [mode, lockPath, counterPath, n] = process.argv.slice(2);
const lock = new FileLock(lockPath);

if (mode === 'hold') {
  await lock.acquire();
  process.stdout.write('locked\n');
  setInterval(() => {}, 60_000);
} else if (mode === 'count') {
  for (let i = 0; i < Number(n); i++) {
    await lock.acquire();
    try {
      let value = 0;
      try {
        value = Number(readFileSync(counterPath, 'utf8'));
      } catch {
        // first writer
      }
      writeFileSync(counterPath, String(value + 1));
    } finally {
      lock.release();
    }
  }
  process.stdout.write('done\n');
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exitCode = 2;
}
