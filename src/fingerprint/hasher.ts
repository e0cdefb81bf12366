import {openSync, readSync, closeSync, fstatSync} from 'node:fs';
import xxhash, {type XXHashAPI} from 'xxhash-wasm';
import {contentHash, type ContentHash} from '../ids.js';

/**
 * xxh64 through xxhash-wasm, initialised once per process. Every hash the engine writes is
 * algorithm-prefixed, so a later change of algorithm is a visible key-schema change.
 */
let api: XXHashAPI | undefined;

export async function initHasher(): Promise<void> {
  api ??= await xxhash();
}

function hasher(): XXHashAPI {
  if (!api) throw new Error('Internal error: initHasher() was not awaited');
  return api;
}

function hex(n: bigint): string {
  return n.toString(16).padStart(16, '0');
}

/** Hex xxh64 of a string (UTF-8). */
export function hashText(s: string): string {
  return hasher().h64ToString(s);
}

export function hashBytes(b: Uint8Array): ContentHash {
  return contentHash(hex(hasher().h64Raw(b)));
}

/** Files read for hashing in this process; a no-op build must read none (the stat cache answers). */
export const hashCounter = {files: 0};

const CHUNK = 1 << 20;
const chunk = Buffer.allocUnsafe(CHUNK);

/**
 * Streams a file through xxh64 in 1 MiB reads: checkpoints are gigabytes, and reading them whole
 * would double the memory a build needs. Synchronous on purpose: callers hash on the hot path of
 * a no-op build, where the stat cache makes this rare, and a sync read avoids promise overhead.
 */
export function hashFile(path: string): ContentHash {
  const fd = openSync(path, 'r');
  hashCounter.files++;
  try {
    const size = fstatSync(fd).size;
    if (size <= CHUNK) {
      const n = readSync(fd, chunk, 0, CHUNK, 0);
      return hashBytes(chunk.subarray(0, n));
    }
    const h = hasher().create64();
    for (;;) {
      const n = readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) break;
      h.update(chunk.subarray(0, n));
    }
    return contentHash(hex(h.digest()));
  } finally {
    closeSync(fd);
  }
}
