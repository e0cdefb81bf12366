#!/usr/bin/env node
// Lease overhead per action. Every action a build runs (and every model call it pays for) takes
// a lease on the store and releases it afterwards; this measures what that costs, on a local
// disk (ext4 here) and on tmpfs, and sets it beside make's own cost per trivial action measured
// in the same run. It also measures how soon a waiting builder notices a released lease.
//
//   node bench/lease/run.mjs            (N=5000 pairs per filesystem; MAKE_TARGETS=500)
//
// Writes bench/lease/results.md.
import {execFileSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const {Leases} = await import(join(repo, 'lib', 'store', 'lease.js'));

const N = Number(process.env.N ?? 5000);
const MAKE_TARGETS = Number(process.env.MAKE_TARGETS ?? 500);

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return {mean: s.reduce((a, b) => a + b, 0) / s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1]};
}

/** acquire + release of N distinct leases, as a build does once per action. */
function pairs(root) {
  const leases = new Leases(join(root, 'v1', 'leases'));
  for (let i = 0; i < 200; i++) leases.tryAcquire(`warm${i}`, 't').lease.release();
  const samples = [];
  for (let i = 0; i < N; i++) {
    const t0 = process.hrtime.bigint();
    const got = leases.tryAcquire(`k${i}`, 'target');
    got.lease.release();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return stats(samples);
}

/** The same in a group-shared (setgid) store, where each new lease directory is made 2775. */
function pairsGroup(root) {
  mkdirSync(root, {recursive: true});
  execFileSync('chmod', ['2775', root]);
  return pairs(root);
}

/** How long a waiter takes to get a lease after its holder releases it, at the default poll. */
async function wakeLatency(root) {
  const holderSide = new Leases(join(root, 'v1', 'leases'));
  const waiterSide = new Leases(join(root, 'v1', 'leases'));
  const samples = [];
  for (let i = 0; i < 40; i++) {
    const held = holderSide.tryAcquire(`w${i}`, 't').lease;
    let releasedAt = 0;
    const waiting = waiterSide.acquire(`w${i}`, 't', new AbortController().signal, () => {}, () => undefined);
    await new Promise((r) => setTimeout(r, 5 + ((i * 37) % 100)));
    releasedAt = performance.now();
    held.release();
    const got = await waiting;
    samples.push(performance.now() - releasedAt);
    got.lease.release();
  }
  return stats(samples);
}

/** make's own cost per trivial action: MAKE_TARGETS independent `touch $@` rules, -j1. */
function makePerAction(root) {
  const dir = join(root, 'make');
  mkdirSync(dir, {recursive: true});
  const names = Array.from({length: MAKE_TARGETS}, (_, i) => `t${i}`);
  writeFileSync(join(dir, 'Makefile'), `all: ${names.join(' ')}\n%:\n\t@touch $@\n.PHONY: all\n`);
  const runs = [];
  for (let r = 0; r < 3; r++) {
    for (const n of names) rmSync(join(dir, n), {force: true});
    const t0 = performance.now();
    execFileSync('make', ['-s', '-j1', '-C', dir, 'all']);
    runs.push((performance.now() - t0) / MAKE_TARGETS);
  }
  return Math.min(...runs);
}

const disk = mkdtempSync(join(tmpdir(), 'stage-lease-bench-'));
const shm = mkdtempSync(join('/dev/shm', 'stage-lease-bench-'));
try {
  const onDisk = pairs(join(disk, 'plain'));
  const onDiskGroup = pairsGroup(join(disk, 'group'));
  const onShm = pairs(join(shm, 'plain'));
  const wake = await wakeLatency(join(disk, 'wake'));
  const make = makePerAction(disk);
  const fmt = (x) => x.toFixed(3);
  const row = (name, s) => `| ${name} | ${fmt(s.mean)} | ${fmt(s.p50)} | ${fmt(s.p95)} | ${fmt(s.p99)} | ${fmt(s.max)} | ${(s.mean / make).toFixed(3)} |`;
  const report = `# Lease overhead per action

\`node bench/lease/run.mjs\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${N} acquire + release pairs per row
(one pair per action a build runs, or per model call it pays for). Target: < 5 ms per action on a local disk.

| store | mean ms | p50 | p95 | p99 | max | ÷ make's time per action |
|---|---:|---:|---:|---:|---:|---:|
${row('local disk (ext4)', onDisk)}
${row('local disk, group-shared (setgid 2775)', onDiskGroup)}
${row('tmpfs', onShm)}

make's own time per trivial action (\`touch $@\`, ${MAKE_TARGETS} targets, -j1, best of 3), same run: **${fmt(make)} ms**.

A waiter notices a released lease within one poll (default 100 ms): measured release → acquire
${fmt(wake.mean)} ms mean, p50 ${fmt(wake.p50)}, p95 ${fmt(wake.p95)}, max ${fmt(wake.max)} (40 handovers).
`;
  writeFileSync(join(here, 'results.md'), report);
  process.stdout.write(report);
} finally {
  rmSync(disk, {recursive: true, force: true});
  rmSync(shm, {recursive: true, force: true});
}
