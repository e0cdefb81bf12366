import {readFileSync, writeFileSync} from 'node:fs';
import {rule} from 'stage';
import type {Task} from './lib/types.js';

/**
 * `tasks/{split}`: rows [from, to) of a source file in the instruct-human-assistant-prompt format,
 * each cut to its first human turn. The source is a local JSONL (`{"prompt": ...}` per line) or
 * JSON array file the user provides; its content hash is an input.
 */
export const extractTasks = rule<{from: number; to: number}>('extract-tasks', ({inputs, params, out}) => {
  const source = inputs[0]!;
  const rows = readRows(source);
  if (rows.length < params.to) throw new Error(`${source} has ${rows.length} rows; this split needs rows ${params.from}-${params.to - 1}`);
  const tasks: Task[] = [];
  for (let row = params.from; row < params.to; row++) {
    const text = firstHumanTurn(rows[row]!);
    if (!text) throw new Error(`${source}: row ${row} has no human turn`);
    tasks.push({id: `t${row}`, row, text});
  }
  writeFileSync(out, tasks.map((t) => `${JSON.stringify(t)}\n`).join(''));
});

/** The text before the first "Assistant:", without the leading "Human:". */
export function firstHumanTurn(prompt: string): string {
  const cut = prompt.indexOf('Assistant:');
  return (cut >= 0 ? prompt.slice(0, cut) : prompt).trim().replace(/^Human:\s*/, '').trim();
}

function readRows(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const parse = (v: unknown, where: string): string => {
    const p = typeof v === 'string' ? v : (v as {prompt?: unknown})?.prompt;
    if (typeof p !== 'string') throw new Error(`${where}: expected a row with a "prompt" string`);
    return p;
  };
  if (text.trimStart().startsWith('[')) return (JSON.parse(text) as unknown[]).map((v, i) => parse(v, `${path}[${i}]`));
  return text.split('\n').flatMap((l, i) => (l.trim() === '' ? [] : [parse(JSON.parse(l), `${path}:${i + 1}`)]));
}
