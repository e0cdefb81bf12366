import {createHash} from 'node:crypto';
import {readdirSync, readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

let memo: string | undefined;

/**
 * A hash of the world's own code. The world stands in for models, so its code is part of every
 * model's identity: pipelines put it in the world's model names, and a change to the world
 * invalidates what it produced (memoized answers included) as a new model snapshot would.
 */
export function worldFingerprint(): string {
  if (memo) return memo;
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, {withFileTypes: true}).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(js|ts)$/.test(e.name) && !e.name.endsWith('.d.ts')) h.update(e.name).update(readFileSync(p));
    }
  };
  walk(dirname(fileURLToPath(import.meta.url)));
  memo = h.digest('hex').slice(0, 12);
  return memo;
}
