import {closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync} from 'node:fs';
import {dirname} from 'node:path';

let tmpCounter = 0;

/** A temp name beside `path`, unique per process and call, so concurrent writers never collide. */
export function tempPathFor(path: string): string {
  return `${path}.tmp-${process.pid}-${++tmpCounter}`;
}

/**
 * Writes a file so that readers see the old contents or the new, never a torn mix: write a temp
 * file, fsync it, then rename over the target.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  mkdirSync(dirname(path), {recursive: true});
  const tmp = tempPathFor(path);
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, {force: true});
    throw e;
  }
}

/** The error code of a Node system error, if it is one. */
export function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as {code: unknown}).code) : undefined;
}

/** The names in a directory; none when it does not exist (yet) or cannot be read. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
