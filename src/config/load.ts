import {existsSync, readFileSync, statSync} from 'node:fs';
import {isBuiltin, SourceMap} from 'node:module';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';
import {hashFile, hashText} from '../fingerprint/hasher.js';
import type {Diagnostic, Location} from '../util/diagnostic.js';
import {writeFileAtomic} from '../util/fs.js';
import {err, messageOf, ok, type Result} from '../util/result.js';
import {resolveCallSite, type CallSite, type PositionMapper} from './call-site.js';
import {resetRegistry, type Registry} from './define.js';

/** The evaluated Stagefile: its declarations and what is needed to explain and fingerprint them. */
export interface LoadedStagefile {
  readonly file: string;
  readonly root: string;
  readonly registry: Registry;
  /** Local source files the Stagefile is built from (absolute), for watch mode. */
  readonly sources: readonly string[];
  /** Local imports of each source file (absolute → absolute), for a rule's code closure. */
  readonly imports: ReadonlyMap<string, readonly string[]>;
  readonly locate: (site: CallSite) => Location | undefined;
}

interface CompiledMeta {
  readonly engine: string;
  readonly bundle: string;
  /** Relative path → [size, mtimeMs, ino, hash] of every local source in the bundle. */
  readonly sources: Record<string, [number, number, number, string]>;
  readonly imports: Record<string, string[]>;
}

const ENGINE_ENTRY = fileURLToPath(new URL('../index.js', import.meta.url));
const META_VERSION = 1;

/**
 * Compiles Stagefile.ts (with esbuild, bundling local imports) into .stage/compiled and imports
 * it. The compiled JavaScript is reused while no source changed, so a no-op build pays for no
 * TypeScript loader: checking it costs one stat per source file.
 */
export async function loadStagefile(file: string, opts: {profile?: string | undefined; fresh?: boolean} = {}): Promise<Result<LoadedStagefile, Diagnostic[]>> {
  const root = dirname(file);
  const dir = join(root, '.stage', 'compiled');
  let meta = readMeta(dir, root);
  if (!meta) {
    const built = await compile(file, root, dir);
    if (!built.ok) return built;
    meta = built.value;
  }
  const bundle = join(dir, meta.bundle);
  const registry = resetRegistry(opts.profile);
  let mapper: PositionMapper | undefined;
  const mapPosition: PositionMapper = (f, line, column) => {
    mapper ??= makeMapper(bundle);
    return mapper(f, line, column);
  };
  try {
    const url = pathToFileURL(bundle).href + (opts.fresh ? `?t=${Date.now()}` : '');
    await import(url);
  } catch (e) {
    return err([evaluationError(e, bundle, mapPosition, file)]);
  }
  const abs = (p: string): string => resolve(root, p);
  const imports = new Map(Object.entries(meta.imports).map(([k, v]) => [abs(k), v.map(abs)] as const));
  return ok({
    file, root, registry, imports,
    sources: Object.keys(meta.sources).map(abs),
    locate: (site) => resolveCallSite(site, mapPosition),
  });
}

/** The cached compile, if every source still has the contents it was compiled from. */
function readMeta(dir: string, root: string): CompiledMeta | undefined {
  let meta: CompiledMeta & {version?: number};
  try {
    meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as CompiledMeta & {version?: number};
  } catch {
    return undefined;
  }
  if (meta.version !== META_VERSION || meta.engine !== ENGINE_ENTRY || !existsSync(join(dir, meta.bundle))) return undefined;
  let restat = false;
  for (const [rel, [size, mtime, ino, hash]] of Object.entries(meta.sources)) {
    const st = statSync(resolve(root, rel), {throwIfNoEntry: false});
    if (!st) return undefined;
    if (st.size === size && st.mtimeMs === mtime && st.ino === ino) continue;
    if (hashFile(resolve(root, rel)) !== hash) return undefined;
    meta.sources[rel] = [st.size, st.mtimeMs, st.ino, hash];
    restat = true;
  }
  if (restat) writeFileAtomic(join(dir, 'meta.json'), JSON.stringify({...meta, version: META_VERSION}));
  return meta;
}

async function compile(file: string, root: string, dir: string): Promise<Result<CompiledMeta, Diagnostic[]>> {
  const esbuild = await import('esbuild');
  let result: import('esbuild').BuildResult<{write: false; metafile: true}>;
  try {
    result = await esbuild.build({
      entryPoints: [file], absWorkingDir: root, bundle: true, write: false, metafile: true,
      platform: 'node', format: 'esm', target: 'node20', sourcemap: 'external', outdir: dir,
      packages: 'external', logLevel: 'silent', keepNames: true,
      plugins: [{
        name: 'stage-engine',
        setup(b: import('esbuild').PluginBuild) {
          // The Stagefile's `import ... from 'stage'` must reach this very engine instance.
          b.onResolve({filter: /^stage$/}, () => ({path: ENGINE_ENTRY, external: true}));
          // A package the workspace does not have comes from the engine's own dependencies
          // (openai, execa…), so a pipeline needs no install of its own to use them.
          b.onResolve({filter: /^[^./]/}, (args) => {
            if (args.path.startsWith('node:') || isBuiltin(args.path) || hasPackage(root, args.path)) return {path: args.path, external: true};
            try {
              return {path: fileURLToPath(import.meta.resolve(args.path)), external: true};
            } catch {
              return {path: args.path, external: true};
            }
          });
        },
      }],
    });
  } catch (e) {
    const failure = e as {errors?: import('esbuild').Message[]};
    if (!failure.errors) return err([{severity: 'error', message: `cannot compile ${file}: ${messageOf(e)}`}]);
    return err(failure.errors.map((m) => ({
      severity: 'error', message: m.text,
      location: m.location ? {file: resolve(root, m.location.file), line: m.location.line, column: m.location.column + 1} : undefined,
    })));
  }
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const map = result.outputFiles.find((f) => f.path.endsWith('.js.map'));
  if (!js || !map) throw new Error('Internal error: esbuild produced no bundle');
  const sources: CompiledMeta['sources'] = {};
  const imports: CompiledMeta['imports'] = {};
  for (const [rel, info] of Object.entries(result.metafile.inputs)) {
    const abs = resolve(root, rel);
    const st = statSync(abs);
    sources[rel] = [st.size, st.mtimeMs, st.ino, hashFile(abs)];
    imports[rel] = info.imports.filter((i) => !i.external).map((i) => i.path);
  }
  const name = `stagefile-${hashText(js.text)}.mjs`;
  writeFileAtomic(join(dir, `${name}.map`), map.contents);
  writeFileAtomic(join(dir, name), `${js.text}\n//# sourceMappingURL=${name}.map\n`);
  const meta = {version: META_VERSION, engine: ENGINE_ENTRY, bundle: name, sources, imports};
  writeFileAtomic(join(dir, 'meta.json'), JSON.stringify(meta));
  return ok(meta);
}

function makeMapper(bundle: string): PositionMapper {
  let map: SourceMap | undefined;
  try {
    map = new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  } catch {
    map = undefined;
  }
  const bundleDir = dirname(bundle);
  return (file, line, column) => {
    const path = file.startsWith('file:') ? fileURLToPath(file.replace(/\?.*$/, '')) : file;
    if (!map || path !== bundle) return {file: path, line, column};
    const o = map.findOrigin(line, column) as {fileName?: string; lineNumber?: number; columnNumber?: number};
    if (!o.fileName || !o.lineNumber) return {file: path, line, column};
    return {file: resolve(bundleDir, o.fileName), line: o.lineNumber, column: o.columnNumber ?? 1};
  };
}

/** A throw while evaluating the Stagefile, located at the first frame inside the user's code. */
function evaluationError(e: unknown, bundle: string, map: PositionMapper, file: string): Diagnostic {
  const stack = e instanceof Error ? e.stack ?? '' : '';
  const frame = stack.split('\n').map((l) => /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?$/.exec(l.trim())).find((m) => m && m[1]!.includes(bundle));
  const location = frame ? map(frame[1]!, Number(frame[2]), Number(frame[3])) : {file, line: 1, column: 1};
  return {severity: 'error', message: `evaluating the Stagefile threw: ${messageOf(e)}`, location, hint: 'fix the error at this line; nothing was built'};
}

/** Finds the Stagefile: the given path, or Stagefile.ts in the nearest directory upward. */
export function findStagefile(from: string, explicit?: string): string | undefined {
  if (explicit) return resolve(from, explicit);
  for (let d = resolve(from); ; d = dirname(d)) {
    const f = join(d, 'Stagefile.ts');
    if (existsSync(f)) return f;
    if (dirname(d) === d) return undefined;
  }
}

/** Whether `node_modules/<package>` exists in the workspace or a directory above it. */
function hasPackage(root: string, specifier: string): boolean {
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  for (let d = root; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules', name, 'package.json'))) return true;
    if (dirname(d) === d) return false;
  }
}
