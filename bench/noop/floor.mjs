#!/usr/bin/env node
// The bare-Node floor of a no-op build: the least any build tool written in Node must do to
// learn that nothing changed. First pass (no state yet): list every file under <dir>/src and
// <dir>/out and write a JSON state of path -> [size, mtimeMs, ino]. Later passes: read that state,
// statSync every file and compare. No graph, no hashing, no child processes.
//
// Usage: node floor.mjs <dir>    exit 0 = nothing changed, 1 = something changed
import {mkdirSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs';
import {join, resolve} from 'node:path';

const dir = resolve(process.argv[2] ?? '.');
const statePath = join(dir, '.floor', 'state.json');

let state;
try {
  state = JSON.parse(readFileSync(statePath, 'utf8'));
} catch {
  state = undefined;
}

if (state === undefined) {
  const files = {};
  for (const sub of ['src', 'out']) {
    for (const name of readdirSync(join(dir, sub))) {
      const rel = `${sub}/${name}`;
      const st = statSync(join(dir, rel));
      if (st.isFile()) files[rel] = [st.size, st.mtimeMs, st.ino];
    }
  }
  mkdirSync(join(dir, '.floor'), {recursive: true});
  writeFileSync(statePath, JSON.stringify({version: 1, files}));
  process.stdout.write(`floor: recorded ${Object.keys(files).length} files\n`);
} else {
  let checked = 0;
  let changed = 0;
  for (const [rel, [size, mtimeMs, ino]] of Object.entries(state.files)) {
    const st = statSync(join(dir, rel), {throwIfNoEntry: false});
    checked++;
    if (!st || st.size !== size || st.mtimeMs !== mtimeMs || st.ino !== ino) changed++;
  }
  process.stdout.write(`floor: checked ${checked} files, ${changed} changed\n`);
  process.exitCode = changed === 0 ? 0 : 1;
}
