import {rule, type ChatMessage} from 'stage';
import {depFile, readJsonl, writeJsonl} from './lib/io.js';
import {splitKey} from './lib/keys.js';
import {chat, loadPrompt, type PromptTemplate} from './lib/prompt.js';
import {mapLimit, servedModel, shardOf} from './lib/served.js';
import type {Conversations, PersonaName, Regularizer, Task, Top1, Turns} from './lib/types.js';
import type {Sampling} from './simulate.js';

/**
 * The messages an answerer sees after a conversation: the opener (`My name is …` and the task,
 * optionally behind an instruction), the questions and replies, and the task asked again after
 * the last reply. Used for regularizer answers and for the win-rate answers alike.
 */
export function answerMessages(prompt: PromptTemplate, name: string, task: string, turns: Turns): ChatMessage[] {
  const opener = chat(prompt, {name, task});
  const body = turns.map((m, i): ChatMessage => (i === turns.length - 1 && m.role === 'user' ? {role: 'user', content: `${m.content}\n\n${task}`} : m));
  // The opener ends with a user message; the conversation starts with the questioner's question.
  return [...opener, ...body];
}

interface RegParams {
  split: string;
  questioner: string;
  answerer: Sampling;
  concurrency: number;
}

/**
 * `regularizer/m{t}/{split}`: the current model m_t's own greedy final answer after each kept
 * conversation. These answers close every SFT example, so learning to ask does not unlearn
 * answering; the oracle's answer is never trained on.
 */
export const regularize = rule<RegParams>('regularizer', async ({deps, inputs, params, out, shard, signal}) => {
  const prompt = loadPrompt(inputs[0]!);
  const top = readJsonl<Top1>(depFile(deps, `top1/${params.questioner}/${params.split}`));
  const sim = new Map(readJsonl<Conversations>(depFile(deps, `sim/${params.questioner}/${params.split}`)).map((c) => [c.key, c]));
  const tasks = new Map(readJsonl<Task>(depFile(deps, `tasks/${params.split}`)).map((t) => [t.id, t.text]));
  const names = new Map(readJsonl<PersonaName>(depFile(deps, `names/${params.split}`)).map((n) => [n.id, n.name]));
  const answerer = servedModel('answerer');
  const rows = await mapLimit(shardOf(top, shard), params.concurrency, async (t): Promise<Regularizer> => {
    const {task, persona} = splitKey(t.key);
    const turns = sim.get(t.key)?.conversations[t.index];
    if (!turns) throw new Error(`${t.key}: conversation ${t.index} is missing`);
    const messages = answerMessages(prompt, names.get(persona)!, tasks.get(task)!, turns);
    const r = await answerer.chat.completions.create({...params.answerer, messages}, {signal});
    return {key: t.key, text: (r.choices[0]?.message.content ?? '').trim()};
  }, signal);
  writeJsonl(out, rows);
});
