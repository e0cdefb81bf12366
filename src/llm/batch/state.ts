import {readFileSync, rmSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {mkdirShared} from '../../store/shared-dir.js';
import {writeFileAtomic} from '../../util/fs.js';

/** Where the per-target batch state files live in the store. */
export function batchStateDir(storeDir: string): string {
  return join(storeDir, 'v1', 'batches');
}

/** One submitted batch: enough to find it again and join its results after a restart. */
export interface BatchRecord {
  readonly id: string;
  readonly inputFileId: string;
  /** The model role whose endpoint holds the batch. */
  readonly role: string;
  /** The memo keys of the calls it covers. */
  readonly customIds: readonly string[];
}

/**
 * The batches a target has in flight, persisted the moment each is created so that a build
 * started after a crash reattaches to them instead of paying twice:
 *
 *   <store>/v1/batches/<action key>.json   {"v": 1, "target": …, "batches": [BatchRecord…]}
 *
 * The file goes away once every batch's results are in the memo.
 */
export class BatchState {
  readonly path: string;
  readonly target: string;
  #batches: BatchRecord[];

  private constructor(path: string, target: string, batches: BatchRecord[]) {
    this.path = path;
    this.target = target;
    this.#batches = batches;
  }

  /** The state of the target with this action key; empty when there is none (or it is unreadable). */
  static load(dir: string, actionKey: string, target: string): BatchState {
    const path = join(dir, `${actionKey.replace(/[^A-Za-z0-9_-]/g, '_')}.json`);
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      // No batch in flight.
    }
    return new BatchState(path, target, text === undefined ? [] : parseState(text));
  }

  get batches(): readonly BatchRecord[] {
    return this.#batches;
  }

  add(record: BatchRecord): void {
    this.#batches = [...this.#batches, record];
    this.#save();
  }

  remove(id: string): void {
    this.#batches = this.#batches.filter((b) => b.id !== id);
    this.#save();
  }

  #save(): void {
    if (this.#batches.length === 0) rmSync(this.path, {force: true});
    else {
      mkdirShared(dirname(this.path));
      writeFileAtomic(this.path, `${JSON.stringify({v: 1, target: this.target, batches: this.#batches})}\n`);
    }
  }
}

/** The batch records in a state file's text; a malformed file or record counts as none. */
export function parseState(text: string): BatchRecord[] {
  let o: {v?: unknown; batches?: unknown};
  try {
    o = JSON.parse(text) as typeof o;
  } catch {
    return [];
  }
  if (o?.v !== 1 || !Array.isArray(o.batches)) return [];
  return (o.batches as Partial<BatchRecord>[]).filter((b): b is BatchRecord =>
    typeof b?.id === 'string' && typeof b.inputFileId === 'string' && typeof b.role === 'string' && Array.isArray(b.customIds) && b.customIds.every((c) => typeof c === 'string'));
}
