import {createRequire} from 'node:module';

type FastGlob = typeof import('fast-glob');
let fg: FastGlob | undefined;

const MAGIC = /[*?[\]{}()!]/;

/**
 * Expands a target's input patterns to sorted workspace-relative paths. Plain paths are taken as
 * written (a missing one is reported by the caller); fast-glob is loaded only when some pattern
 * really is a glob, which keeps it off the start-up path of most builds.
 */
export function expandInputs(root: string, patterns: readonly string[]): string[] {
  if (patterns.length === 0) return [];
  const out = new Set<string>();
  for (const p of patterns) {
    if (!MAGIC.test(p)) {
      out.add(p);
      continue;
    }
    fg ??= createRequire(import.meta.url)('fast-glob') as FastGlob;
    for (const m of fg.sync(p, {cwd: root, dot: false, onlyFiles: true, ignore: ['.stage/**', 'node_modules/**']})) out.add(m);
  }
  return [...out].sort();
}

/** Whether a pattern is a glob (an empty match is fine for a glob, an error for a plain path). */
export function isGlob(pattern: string): boolean {
  return MAGIC.test(pattern);
}
