import {closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync} from 'node:fs';
import {dirname, join} from 'node:path';

/** Where shard `index` of a target writes its outputs: a subdirectory of the target's staging. */
export function shardStaging(staging: string, index: number): string {
  return join(staging, '.shards', String(index));
}

/**
 * Concatenates each output file of the shards, in shard order, into the target's staging: the
 * JSONL outputs of a sharded rule read as if one run had written them. Returns the first output a
 * shard failed to write, if any.
 */
export function mergeShards(staging: string, outputs: readonly string[], count: number): string | undefined {
  for (const rel of outputs) {
    const dest = join(staging, rel);
    mkdirSync(dirname(dest), {recursive: true});
    const fd = openSync(dest, 'w');
    try {
      for (let i = 0; i < count; i++) {
        const part = join(shardStaging(staging, i), rel);
        if (!statSync(part, {throwIfNoEntry: false})?.isFile()) return `${rel} (shard ${i})`;
        writeSync(fd, readFileSync(part));
      }
    } finally {
      closeSync(fd);
    }
  }
  return undefined;
}
