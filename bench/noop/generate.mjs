#!/usr/bin/env node
// Emits the no-op benchmark graph into <dir>: 1,000 source files and 10 layers x 1,000 targets,
// fan-in 2, described four times (Stagefile.ts, Makefile, build.ninja, Snakefile) so that every
// tool sees the same DAG. Every rule is the one-line `cat inputs > output`.
//
//   target t<l>_<i>, output out/t<l>_<i>
//     l = 0: input  src/s<i>.txt
//     l > 0: inputs out/t<l-1>_<i>, out/t<l-1>_<(7i+1) mod N>
//
// Usage: node generate.mjs <dir> [--sources N] [--layers L]
import {mkdirSync, writeFileSync} from 'node:fs';
import {join, resolve} from 'node:path';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : Number(args.splice(i, 2)[1]);
};
const N = flag('--sources', 1000);
const L = flag('--layers', 10);
if (args.length !== 1 || !Number.isInteger(N) || !Number.isInteger(L) || N < 2 || L < 1) {
  process.stderr.write('usage: node generate.mjs <dir> [--sources N] [--layers L]\n');
  process.exit(2);
}
const dir = resolve(args[0]);

/** The one definition of the graph; every emitter below walks it. */
const src = (i) => `src/s${i}.txt`;
const out = (l, i) => `out/t${l}_${i}`;
const inputsOf = (l, i) => (l === 0 ? [src(i)] : [out(l - 1, i), out(l - 1, (i * 7 + 1) % N)]);

mkdirSync(join(dir, 'src'), {recursive: true});
mkdirSync(join(dir, 'out'), {recursive: true});
for (let i = 0; i < N; i++) writeFileSync(join(dir, src(i)), `source ${i}\n`);

const roots = Array.from({length: N}, (_, i) => out(L - 1, i));
const make = [`all: ${roots.join(' ')}`, '.PHONY: all', ''];
const ninja = ['rule cat', '  command = cat $in > $out', ''];
for (let l = 0; l < L; l++) {
  for (let i = 0; i < N; i++) {
    const ins = inputsOf(l, i).join(' ');
    make.push(`${out(l, i)}: ${ins}`, '\tcat $^ > $@');
    ninja.push(`build ${out(l, i)}: cat ${ins}`);
  }
}
ninja.push('', `default ${roots.join(' ')}`);
writeFileSync(join(dir, 'Makefile'), `${make.join('\n')}\n`);
writeFileSync(join(dir, 'build.ninja'), `${ninja.join('\n')}\n`);

// The Stagefile is written the way a user would: a loop, handles passed as dependencies.
writeFileSync(join(dir, 'Stagefile.ts'), `\
// ${L} layers x ${N} targets; layer 0 reads one source each, every later target reads two
// targets of the layer below (fan-in 2).
import {sh, target, type Target} from 'stage';

const N = ${N}, L = ${L};
const cat = sh('cat $in > $out');
let below: Target[] = [];
for (let l = 0; l < L; l++) {
  const layer: Target[] = [];
  for (let i = 0; i < N; i++) {
    const out = \`out/t\${l}_\${i}\`;
    layer.push(l === 0
      ? target(\`t\${l}/\${i}\`, {inputs: [\`src/s\${i}.txt\`], out, run: cat})
      : target(\`t\${l}/\${i}\`, {deps: [below[i]!, below[(i * 7 + 1) % N]!], out, run: cat}));
  }
  below = layer;
}
`);

// Snakemake, also as a user would write it: wildcard rules and an input function.
writeFileSync(join(dir, 'Snakefile'), `\
N, L = ${N}, ${L}

wildcard_constraints:
    i = r"\\d+"

rule all:
    input: expand("out/t{l}_{i}", l=L - 1, i=range(N))

rule layer0:
    input: "src/s{i}.txt"
    output: "out/t0_{i}"
    shell: "cat {input} > {output}"

rule layer:
    input: lambda w: [f"out/t{int(w.l) - 1}_{w.i}", f"out/t{int(w.l) - 1}_{(int(w.i) * 7 + 1) % N}"]
    output: "out/t{l}_{i}"
    wildcard_constraints: l = r"[1-9]\\d*"
    shell: "cat {input} > {output}"
`);

process.stdout.write(`${dir}: ${N} sources, ${L} x ${N} targets (fan-in 2)\n`);
