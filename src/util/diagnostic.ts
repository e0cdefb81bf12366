import {readFileSync} from 'node:fs';
import {relative} from 'node:path';

/** A place in a source file, 1-based line and column, as editors show them. */
export interface Location {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/**
 * A user-facing problem with where it is and what to do. `related` points at the other places
 * involved (the earlier declaration of a duplicate, every edge of a cycle).
 */
export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly location?: Location | undefined;
  readonly related?: readonly {readonly message: string; readonly location: Location}[];
  readonly hint?: string | undefined;
}

/** `Stagefile.ts:12:3`, relative to the directory the user is in. */
export function formatLocation(loc: Location, cwd: string = process.cwd()): string {
  return `${relative(cwd, loc.file) || loc.file}:${loc.line}:${loc.column}`;
}

/**
 * Renders a diagnostic as headline, source line with a caret, related places and a hint, the
 * layout compilers use, so a user can jump straight to the line.
 */
export function renderDiagnostic(d: Diagnostic, cwd: string = process.cwd()): string {
  const lines: string[] = [];
  const where = d.location ? `${formatLocation(d.location, cwd)}: ` : '';
  lines.push(`${where}${d.severity}: ${d.message}`);
  if (d.location) lines.push(...excerpt(d.location));
  for (const r of d.related ?? []) {
    lines.push(`  ${formatLocation(r.location, cwd)}: ${r.message}`);
    lines.push(...excerpt(r.location).map((l) => `  ${l}`));
  }
  if (d.hint) lines.push(`  hint: ${d.hint}`);
  return lines.join('\n');
}

const sourceCache = new Map<string, readonly string[] | undefined>();

function excerpt(loc: Location): string[] {
  let src = sourceCache.get(loc.file);
  if (!sourceCache.has(loc.file)) {
    try {
      src = readFileSync(loc.file, 'utf8').split('\n');
    } catch {
      src = undefined;
    }
    sourceCache.set(loc.file, src);
  }
  const text = src?.[loc.line - 1];
  if (text === undefined) return [];
  const gutter = String(loc.line);
  return [
    `  ${gutter} | ${text}`,
    `  ${' '.repeat(gutter.length)} | ${' '.repeat(Math.max(0, loc.column - 1))}^`,
  ];
}
