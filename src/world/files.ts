/**
 * The world's file I/O: policies (the questioner "checkpoints"), SFT data, and the trainer's
 * output directory. Kept apart from the pure logic so that everything else is testable
 * without a file system. Outputs are written atomically, so a killed trainer leaves either the
 * old checkpoint or the new one.
 */
import {createHash} from 'node:crypto';
import {readFileSync, statSync} from 'node:fs';
import {join} from 'node:path';
import type {Message} from './conversation.js';
import {formatPolicy, M0, parsePolicy, type Policy} from './policy.js';
import {trainPolicy, type TrainOptions, type TrainResult} from './trainer.js';
import {writeFileAtomic} from '../util/fs.js';
import {err, messageOf, ok, type Result} from '../util/result.js';

/** The file inside a checkpoint directory that holds the policy. */
export const POLICY_FILE = 'policy.json';
export const CONFIG_FILE = 'config.json';

/** Where a policy argument points: `m0`, a policy file, or a checkpoint directory holding one. */
export function policyPath(spec: string): string {
  try {
    return statSync(spec).isDirectory() ? join(spec, POLICY_FILE) : spec;
  } catch {
    return spec;
  }
}

/** Loads `m0` (no file: the base questioner) or a policy file or checkpoint directory. */
export function loadPolicy(spec: string): Result<{policy: Policy; text: string}, string> {
  if (spec === 'm0') return ok({policy: M0, text: formatPolicy(M0)});
  const path = policyPath(spec);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return err(`cannot read policy ${path}: ${messageOf(e)}`);
  }
  const parsed = parsePolicy(text, path);
  return parsed.ok ? ok({policy: parsed.value, text}) : parsed;
}

function asMessages(value: unknown, where: string): Result<Message[], string> {
  const list = Array.isArray(value) ? value : (value as {messages?: unknown} | null)?.messages;
  if (!Array.isArray(list)) return err(`${where}: expected a list of {role, content} messages (or {"messages": [...]})`);
  const out: Message[] = [];
  for (const [i, m] of list.entries()) {
    const role = (m as {role?: unknown} | null)?.role;
    const content = (m as {content?: unknown} | null)?.content;
    if (typeof role !== 'string' || typeof content !== 'string') return err(`${where}: message ${i} needs string "role" and "content"`);
    out.push({role, content});
  }
  return ok(out);
}

const isMessage = (v: unknown): boolean => typeof v === 'object' && v !== null && typeof (v as {role?: unknown}).role === 'string';

/**
 * Reads SFT examples from a JSON array of examples or from JSONL (one example per line). An
 * example is a list of messages or `{"messages": [...]}`; a file that is one JSON list of
 * messages is one example.
 */
export function parseExamples(text: string, where: string): Result<Message[][], string> {
  const items: {value: unknown; where: string}[] = [];
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined;
  }
  if (Array.isArray(whole) && whole.length > 0 && whole.every(isMessage)) {
    items.push({value: whole, where});
  } else if (Array.isArray(whole)) {
    whole.forEach((value, i) => items.push({value, where: `${where}: example ${i}`}));
  } else {
    for (const [i, line] of text.split('\n').entries()) {
      if (line.trim() === '') continue;
      try {
        items.push({value: JSON.parse(line) as unknown, where: `${where}:${i + 1}`});
      } catch (e) {
        return err(`${where}:${i + 1}: not valid JSON (${messageOf(e)})`);
      }
    }
  }
  const examples: Message[][] = [];
  for (const item of items) {
    const r = asMessages(item.value, item.where);
    if (!r.ok) return r;
    examples.push(r.value);
  }
  return ok(examples);
}

export interface TrainFilesOptions extends TrainOptions {
  readonly data: string;
  /** `m0`, a policy file or a checkpoint directory. */
  readonly base: string;
  readonly out: string;
}

/**
 * Trains from files into a checkpoint directory: `<out>/policy.json` and `<out>/config.json`
 * (the hyperparameters and what the fit saw; no paths or times, so equal inputs give equal bytes).
 */
export function trainFiles(opts: TrainFilesOptions): Result<TrainResult, string> {
  let text: string;
  try {
    text = readFileSync(opts.data, 'utf8');
  } catch (e) {
    return err(`cannot read training data ${opts.data}: ${messageOf(e)}`);
  }
  const examples = parseExamples(text, opts.data);
  if (!examples.ok) return examples;
  const base = loadPolicy(opts.base);
  if (!base.ok) return base;
  const result = trainPolicy(base.value.policy, examples.value, {lr: opts.lr, epochs: opts.epochs});
  const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
  const config = {
    kind: 'stage-world-train-config', version: 1,
    base: opts.base === 'm0' ? 'm0' : {sha256: sha(base.value.text)},
    data: {sha256: sha(text), examples: result.examples},
    lr: opts.lr, epochs: opts.epochs, decisions: result.decisions,
  };
  try {
    writeFileAtomic(join(opts.out, POLICY_FILE), formatPolicy(result.policy));
    writeFileAtomic(join(opts.out, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
  } catch (e) {
    return err(`cannot write ${opts.out}: ${messageOf(e)}`);
  }
  return ok(result);
}
