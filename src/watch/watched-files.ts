import {statSync} from 'node:fs';
import {dirname, isAbsolute, join, relative, sep} from 'node:path';
import {expandInputs, isGlob} from '../fingerprint/inputs.js';
import type {BuildContext} from '../schedule/context.js';

/** What a file event means for the watched build. */
export type ChangeKind =
  /** The Stagefile or a module it imports (rule code included): load it again, then build. */
  | 'source'
  /** A declared input or schema, or the set of files an input glob matches: build. */
  | 'input';

/** Events as chokidar names them. */
export type FileEvent = 'add' | 'addDir' | 'change' | 'unlink' | 'unlinkDir';

interface GlobInput {
  readonly pattern: string;
  /** The directory before the first segment with a wildcard: where new matches can appear. */
  readonly base: string;
  matches: ReadonlySet<string>;
}

/**
 * The files a build of some targets depends on, as absolute paths: the Stagefile and every local
 * module it imports (which include the rules' code), and each selected target's inputs (glob
 * matches included) and schema. It answers two questions: may the file watcher look at this path
 * at all (`keeps`, which also prunes the directories it descends into), and does an event on it
 * matter (`classify`). Outputs, `.stage/`, `node_modules/` and `.git/` never matter, so what a
 * build writes cannot start another build.
 */
export class WatchedFiles {
  readonly root: string;
  readonly #sources: ReadonlySet<string>;
  /** Plain inputs and schemas, whether or not they exist yet. */
  readonly #plain: ReadonlySet<string>;
  readonly #globs: readonly GlobInput[];
  readonly #outputs: ReadonlySet<string>;
  readonly #outputDirs: readonly string[];
  /** Directories on the way to a watched file or glob base: the watcher must descend into them. */
  readonly #ancestors: ReadonlySet<string>;
  /** Size, mtime and inode of each watched file as last seen (or `missing`): what a change must move. */
  readonly #seen = new Map<string, string>();

  /** `selected`: node indices of the targets' closure, or undefined when it could not be selected (only the sources are watched). */
  constructor(ctx: BuildContext, selected: readonly number[] | undefined) {
    const {graph} = ctx;
    this.root = graph.root;
    const abs = (rel: string): string => join(this.root, rel);
    this.#sources = new Set(ctx.loaded.sources);
    const plain = new Set<string>();
    const globs = new Map<string, GlobInput>();
    for (const i of selected ?? []) {
      const node = graph.nodes[i]!;
      for (const p of node.inputs) {
        if (!isGlob(p)) plain.add(abs(p));
        else if (!globs.has(p)) globs.set(p, {pattern: p, base: abs(globBase(p)), matches: this.#expand(p)});
      }
      if (node.schema !== undefined) plain.add(abs(node.schema));
    }
    this.#plain = plain;
    this.#globs = [...globs.values()];
    const outputs = new Set<string>();
    const outputDirs: string[] = [];
    // Every target's outputs, selected or not: whatever a build materializes is never an input.
    for (const node of graph.nodes) {
      for (const o of node.outputs) {
        if (o.dir) outputDirs.push(abs(o.path));
        else outputs.add(abs(o.path));
      }
    }
    this.#outputs = outputs;
    this.#outputDirs = outputDirs;
    const ancestors = new Set<string>();
    for (const p of [...this.#sources, ...plain, ...this.#globs.map((g) => g.base)]) {
      for (let d = dirname(p); !ancestors.has(d); d = dirname(d)) {
        ancestors.add(d);
        if (dirname(d) === d) break;
      }
    }
    this.#ancestors = ancestors;
    for (const p of this.#tracked()) this.#seen.set(p, signature(p));
  }

  /** How many files the build depends on now (sources, inputs, current glob matches). */
  get fileCount(): number {
    return this.#tracked().size;
  }

  #tracked(): Set<string> {
    const all = new Set([...this.#sources, ...this.#plain]);
    for (const g of this.#globs) for (const m of g.matches) all.add(m);
    return all;
  }

  /**
   * The paths to hand the file watcher: the workspace root (pruned by `keeps`, so it descends
   * only towards watched files, which also catches directories created later), the glob bases,
   * and anything watched outside the root (a Stagefile may import `../shared/x.ts`).
   */
  watchPaths(): string[] {
    const out = new Set<string>([this.root]);
    for (const p of [...this.#sources, ...this.#plain, ...this.#globs.map((g) => g.base)]) out.add(p);
    return [...out];
  }

  /** Whether the watcher may look at this path (file or directory). */
  keeps(path: string): boolean {
    if (this.#noise(path)) return false;
    if (this.#sources.has(path) || this.#plain.has(path) || this.#ancestors.has(path) || path === this.root) return true;
    return this.#globs.some((g) => within(path, g.base));
  }

  /**
   * Whether an event on `path` changes what the build sees, and which files changed. A file
   * appearing or disappearing under a glob's base counts when the glob's matches change, by the
   * same expansion the build uses, so a new `data/*.txt` starts a build and a new `data/notes.md`
   * does not; the files named are those that joined or left the matches (a new directory reports
   * the matching files in it).
   */
  classify(path: string, event: FileEvent): {kind: ChangeKind; paths: string[]} | undefined {
    if (this.#noise(path)) return undefined;
    const isDir = event === 'addDir' || event === 'unlinkDir';
    // A watched file counts when its size, mtime or inode moved (the engine's own test for a
    // changed file), so a chmod is not an edit and one edit reported twice counts once.
    if (!isDir && this.#seen.has(path)) {
      const now = signature(path);
      if (now === this.#seen.get(path)) return undefined;
      this.#seen.set(path, now);
    }
    if (this.#sources.has(path)) return isDir ? undefined : {kind: 'source', paths: [path]};
    const paths = new Set<string>(this.#plain.has(path) && !isDir ? [path] : []);
    for (const g of this.#globs) {
      if (!within(path, g.base)) continue;
      if (event === 'change') {
        if (g.matches.has(path)) paths.add(path);
        continue;
      }
      const now = this.#expand(g.pattern);
      for (const m of now) {
        if (g.matches.has(m)) continue;
        paths.add(m);
        this.#seen.set(m, signature(m));
      }
      for (const m of g.matches) if (!now.has(m)) paths.add(m);
      g.matches = now;
    }
    return paths.size > 0 ? {kind: 'input', paths: [...paths]} : undefined;
  }

  /** Workspace-relative form of a path for messages (absolute when outside the workspace). */
  display(path: string): string {
    const rel = relative(this.root, path);
    return rel.startsWith('..') || isAbsolute(rel) ? path : rel;
  }

  #expand(pattern: string): Set<string> {
    return new Set(expandInputs(this.root, [pattern]).map((rel) => join(this.root, rel)));
  }

  /** What the build itself writes, and directories that are never inputs. */
  #noise(path: string): boolean {
    if (this.#outputs.has(path) || this.#outputDirs.some((d) => within(path, d))) return true;
    if (!within(path, this.root)) return false;
    const rel = relative(this.root, path);
    if (rel === '.stage' || rel.startsWith(`.stage${sep}`)) return true;
    return rel.split(sep).some((part) => part === 'node_modules' || part === '.git');
  }
}

/** `data/*.txt` → `data`; `**\/*.md` → `.`: the longest leading run of segments without wildcards. */
export function globBase(pattern: string): string {
  const parts = pattern.split('/');
  const fixed: string[] = [];
  for (const part of parts.slice(0, -1)) {
    if (isGlob(part)) break;
    fixed.push(part);
  }
  return fixed.length === 0 ? '.' : fixed.join('/');
}

/** What the engine's stat cache compares: size, mtime and inode. */
function signature(path: string): string {
  const st = statSync(path, {throwIfNoEntry: false});
  return st ? `${st.size}:${st.mtimeMs}:${st.ino}` : 'missing';
}

function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`);
}
