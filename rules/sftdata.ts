import {mkdirSync} from 'node:fs';
import {join} from 'node:path';
import {rule, type ChatMessage} from 'stage';
import {depFile, readJsonl, writeJsonl} from './lib/io.js';
import {splitKey} from './lib/keys.js';
import {prng} from './lib/random.js';
import type {Conversations, PersonaName, Regularizer, SftExample, Task, Top1} from './lib/types.js';

interface SftParams {
  split: string;
  questioner: string;
  evalFraction: number;
  seed: number;
}

/**
 * One SFT example: the user's opener, the questions and replies of the kept conversation, the
 * task asked again, and the regularizer answer. Only assistant turns are trained (the questions
 * and the final answer); the trainer masks user turns.
 */
export function sftExample(key: string, name: string, task: string, turns: readonly ChatMessage[], answer: string): SftExample {
  const messages: ChatMessage[] = [{role: 'user', content: `My name is ${name}.\n\n${task}`}];
  turns.forEach((m, i) => messages.push(i === turns.length - 1 && m.role === 'user' ? {role: 'user', content: `${m.content}\n\n${task}`} : m));
  messages.push({role: 'assistant', content: answer});
  return {key, messages};
}

/** `sftdata/m{t}/{split}/`: train.jsonl and eval.jsonl, split 95/5 with a fixed seed. */
export const sftData = rule<SftParams>('sft-data', ({deps, params, out}) => {
  const top = readJsonl<Top1>(depFile(deps, `top1/${params.questioner}/${params.split}`));
  const sim = new Map(readJsonl<Conversations>(depFile(deps, `sim/${params.questioner}/${params.split}`)).map((c) => [c.key, c]));
  const answers = new Map(readJsonl<Regularizer>(depFile(deps, `regularizer/${params.questioner}/${params.split}`)).map((r) => [r.key, r.text]));
  const tasks = new Map(readJsonl<Task>(depFile(deps, `tasks/${params.split}`)).map((t) => [t.id, t.text]));
  const names = new Map(readJsonl<PersonaName>(depFile(deps, `names/${params.split}`)).map((n) => [n.id, n.name]));
  const examples = top.map((t) => {
    const {task, persona} = splitKey(t.key);
    const turns = sim.get(t.key)?.conversations[t.index];
    const answer = answers.get(t.key);
    if (!turns || answer === undefined) throw new Error(`${t.key}: the kept conversation or its regularizer answer is missing`);
    return sftExample(t.key, names.get(persona)!, tasks.get(task)!, turns, answer);
  });
  const rand = prng(params.seed);
  const order = examples.map((e) => ({e, r: rand()})).sort((a, b) => a.r - b.r).map((x) => x.e);
  const nEval = Math.max(1, Math.round(order.length * params.evalFraction));
  mkdirSync(out, {recursive: true});
  writeJsonl(join(out, 'eval.jsonl'), order.slice(0, nEval));
  writeJsonl(join(out, 'train.jsonl'), order.slice(nEval));
});
