#!/usr/bin/env node
// Summarises one or more V8 .cpuprofile files (from `node --cpu-prof`): the top functions by self
// time, stage's own functions by inclusive time, and self time per source file. With several
// profiles (repeated runs of the same command) every figure is the mean per run.
//
// Usage: node profile-summary.mjs [--top N] [--root <repo>] a.cpuprofile [b.cpuprofile ...]
import {readFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

const args = process.argv.slice(2);
let top = 15;
let root = '';
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else if (args[i] === '--root') root = args[++i].replace(/\/$/, '');
  else files.push(args[i]);
}
if (files.length === 0) {
  process.stderr.write('usage: node profile-summary.mjs [--top N] [--root <repo>] <file.cpuprofile>...\n');
  process.exit(2);
}

const shortUrl = (url) => {
  if (!url) return '';
  let p = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (root && p.startsWith(`${root}/`)) p = p.slice(root.length + 1);
  const compiled = p.indexOf('.stage/compiled/');
  if (compiled !== -1) return `(compiled Stagefile) ${p.slice(compiled)}`;
  const nm = p.lastIndexOf('node_modules/');
  if (nm !== -1) p = p.slice(nm);
  return p;
};
const label = (cf) => {
  const name = cf.functionName || '(anonymous)';
  const where = shortUrl(cf.url);
  return where ? `${name}  ${where}:${cf.lineNumber + 1}` : name;
};
const isStage = (cf) => {
  const u = shortUrl(cf.url);
  return u.startsWith('lib/') || u.startsWith('bin/') || u.startsWith('(compiled Stagefile)');
};

const self = new Map();
const inclusive = new Map();
const perFile = new Map();
let total = 0;
const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);

for (const file of files) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Sample i lasts until sample i+1 was taken; the last one until the profile's end.
  const t = [];
  let acc = prof.startTime;
  for (const d of prof.timeDeltas) t.push((acc += d));
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = ((i + 1 < t.length ? t[i + 1] : prof.endTime) - t[i]) / 1000;
    if (dt <= 0) continue;
    total += dt;
    const leaf = byId.get(prof.samples[i]);
    add(self, label(leaf.callFrame), dt);
    add(perFile, shortUrl(leaf.callFrame.url) || leaf.callFrame.functionName, dt);
    const seen = new Set();
    for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id).callFrame;
      if (!isStage(cf)) continue;
      const k = label(cf);
      if (seen.has(k)) continue;
      seen.add(k);
      add(inclusive, k, dt);
    }
  }
}

const runs = files.length;
const ms = (v) => (v / runs).toFixed(1).padStart(7);
const pct = (v) => `${((100 * v) / total).toFixed(1).padStart(5)}%`;
const table = (title, m, n) => {
  const rows = [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  return [`${title}`, '|      ms |  share | function / file |', '|--------:|-------:|---|',
    ...rows.map(([k, v]) => `| ${ms(v)} | ${pct(v)} | ${k.replaceAll('|', '\\|')} |`), ''].join('\n');
};

process.stdout.write([
  `Profiled time: ${(total / runs).toFixed(1)} ms per run (mean of ${runs} profile${runs === 1 ? '' : 's'}; starts after Node's own bootstrap)`,
  '',
  table(`Top ${top} functions by self time`, self, top),
  table(`Top ${top} stage functions by inclusive time (lib/, bin/, the compiled Stagefile)`, inclusive, top),
  table(`Top ${top} files by self time`, perFile, top),
].join('\n'));
