import {readFileSync, statSync, type Stats} from 'node:fs';
import {join} from 'node:path';
import {hashFile} from '../fingerprint/hasher.js';
import type {ActionKey, ContentHash} from '../ids.js';
import {writeFileAtomic} from '../util/fs.js';

/** What the workspace last got for a target: its key and the outputs materialized for it. */
export interface TargetRecord {
  readonly key: ActionKey;
  /** Hash of the output manifest; dependents' keys use it (early cutoff). */
  readonly digest: ContentHash;
  /** [path, content hash] of every output file, sorted by path. */
  readonly files: readonly (readonly [string, ContentHash])[];
  /** How long the rule took when it last ran, for critical-path ordering. */
  readonly durationMs: number;
}

type StatEntry = [size: number, mtimeMs: number, ino: number, hash: ContentHash];

interface StateFile {
  version: number;
  files: Record<string, StatEntry>;
  targets: Record<string, TargetRecord>;
}

const STATE_VERSION = 1;

/**
 * The workspace's memory between builds (ninja's .ninja_log and .ninja_deps in one file): the
 * stat cache and the last record of each target. It is only an accelerator: if it is lost or
 * torn, the store still holds every result and the next build restores instead of re-running.
 */
export class WorkspaceState {
  readonly #path: string;
  readonly #root: string;
  #files: Record<string, StatEntry>;
  #targets: Record<string, TargetRecord>;
  #dirty = false;
  /** Why the previous state could not be read, if it could not. */
  readonly problem: string | undefined;

  constructor(root: string) {
    this.#root = root;
    this.#path = join(root, '.stage', 'state.json');
    let parsed: StateFile | undefined;
    let problem: string | undefined;
    try {
      parsed = JSON.parse(readFileSync(this.#path, 'utf8')) as StateFile;
      if (parsed.version !== STATE_VERSION || typeof parsed.files !== 'object' || typeof parsed.targets !== 'object') {
        problem = 'workspace state has an unknown format; starting afresh (the store still holds every result)';
        parsed = undefined;
      }
    } catch (e) {
      if ((e as {code?: string}).code !== 'ENOENT') problem = 'workspace state was unreadable; starting afresh (the store still holds every result)';
    }
    this.problem = problem;
    this.#files = parsed?.files ?? {};
    this.#targets = parsed?.targets ?? {};
  }

  target(name: string): TargetRecord | undefined {
    return this.#targets[name];
  }

  setTarget(name: string, record: TargetRecord): void {
    this.#targets[name] = record;
    this.#dirty = true;
  }

  forgetTarget(name: string): void {
    if (name in this.#targets) {
      delete this.#targets[name];
      this.#dirty = true;
    }
  }

  targetNames(): string[] {
    return Object.keys(this.#targets);
  }

  /**
   * The content hash of a workspace file, read from disk only when its (size, mtime, inode)
   * changed since it was last hashed; undefined when the file does not exist.
   */
  hash(rel: string): ContentHash | undefined {
    const abs = join(this.#root, rel);
    const st = statSync(abs, {throwIfNoEntry: false});
    if (!st || !st.isFile()) {
      if (rel in this.#files) {
        delete this.#files[rel];
        this.#dirty = true;
      }
      return undefined;
    }
    const known = this.#files[rel];
    if (known && known[0] === st.size && known[1] === st.mtimeMs && known[2] === st.ino) return known[3];
    const hash = hashFile(abs);
    this.remember(rel, st, hash);
    return hash;
  }

  /** Records a file whose hash the caller already knows (an output just materialized). */
  remember(rel: string, st: Stats, hash: ContentHash): void {
    this.#files[rel] = [st.size, st.mtimeMs, st.ino, hash];
    this.#dirty = true;
  }

  /** The stat of a file as last recorded, for detecting edits during a run. */
  statOf(rel: string): readonly [number, number, number] | undefined {
    const e = this.#files[rel];
    return e ? [e[0], e[1], e[2]] : undefined;
  }

  save(): void {
    if (!this.#dirty) return;
    const data: StateFile = {version: STATE_VERSION, files: this.#files, targets: this.#targets};
    writeFileAtomic(this.#path, JSON.stringify(data));
    this.#dirty = false;
  }
}
