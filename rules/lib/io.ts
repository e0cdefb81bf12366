import {readFileSync, writeFileSync} from 'node:fs';

/** Reads a JSONL file; a malformed line is an error naming the file and line. */
export function readJsonl<T>(path: string): T[] {
  const rows: T[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      rows.push(JSON.parse(line) as T);
    } catch (e) {
      throw new Error(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
  }
  return rows;
}

export function writeJsonl(path: string, rows: readonly unknown[]): void {
  writeFileSync(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

/** The single output file of a dependency, by the dependency's name. */
export function depFile(deps: Readonly<Record<string, readonly string[]>>, name: string): string {
  const files = deps[name];
  if (!files || files.length === 0) throw new Error(`Internal error: the rule needs dependency ${name}, which the target does not list`);
  return files[0]!;
}
