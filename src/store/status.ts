import {statSync} from 'node:fs';
import {join} from 'node:path';
import {CallMemo, memoDir, memoSegments} from '../llm/memo.js';
import {listDir} from '../util/fs.js';
import type {Holder} from './lease.js';
import type {Store} from './store.js';

/** What a store holds and who is producing what in it right now: `stage cache status`. */
export interface StoreStatus {
  readonly dir: string;
  /** Group-shared (setgid root), and which group. */
  readonly group: boolean;
  readonly entries: number;
  readonly blobs: number;
  readonly bytes: number;
  readonly memo: {readonly answers: number; readonly dollars: number; readonly segments: number};
  /** Live leases: an action (its key's hex) or a model call (`call-…`), and its holder. */
  readonly leases: readonly {readonly name: string; readonly holder: Holder}[];
}

export function storeStatus(store: Store): StoreStatus {
  let entries = 0;
  for (const p of store.actionFiles()) if (!p.includes('.tmp-')) entries++;
  let blobs = 0;
  let bytes = 0;
  for (const p of store.blobFiles()) {
    const st = statSync(p, {throwIfNoEntry: false});
    if (!st || p.includes('.tmp-')) continue;
    blobs++;
    bytes += st.size;
  }
  const memo = new CallMemo(store.dir);
  let dollars = 0;
  for (const e of memo.entries()) dollars += e.dollars;
  const leases: {name: string; holder: Holder}[] = [];
  for (const name of listDir(join(store.dir, 'v1', 'leases'))) {
    if (/\.(new|dead)-/.test(name)) continue;
    const holder = store.leases.holder(name);
    if (holder) leases.push({name, holder});
  }
  return {
    dir: store.dir, group: store.shared.group, entries, blobs, bytes,
    memo: {answers: memo.size, dollars, segments: memoSegments(memoDir(store.dir)).length},
    leases,
  };
}
