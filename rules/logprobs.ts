import {rule} from 'stage';
import {depFile, readJsonl, writeJsonl} from './lib/io.js';
import {mapLimit, servedModel, shardOf} from './lib/served.js';
import type {Conversations, Gold, Logprobs, Persona, PersonaName, Task, Turns} from './lib/types.js';

export type Condition = 'qa-experimental' | 'pos-control-1' | 'pos-control-2' | 'neg-control';

interface ScoreParams {
  split: string;
  /** Whose conversations are scored (the scorer is always m0). */
  questioner: string;
  condition: Condition;
  scorer: {model: string};
  concurrency: number;
}

/**
 * The text scored for one conversation, split where the oracle's answer starts: the context is
 * everything the scorer conditions on, the answer the part whose log-probability is summed.
 * Conditions: the conversation with the name and task (qa-experimental, the training signal),
 * with the persona added (pos-control-1), the persona without a conversation (pos-control-2),
 * and the name and task alone (neg-control).
 */
export function scoringText(condition: Condition, name: string, task: string, persona: string, turns: Turns, gold: string): {context: string; full: string} {
  const about = condition === 'pos-control-1' || condition === 'pos-control-2' ? ` Here is some information about me: ${persona}` : '';
  const opener = `My name is ${name}.${about}\n\n${task}`;
  let context: string;
  if (condition === 'qa-experimental' || condition === 'pos-control-1') {
    // [INST] opener [/INST] q1</s>[INST] h1 [/INST] q2</s>[INST] h2\n\ntask [/INST]
    let text = `[INST] ${opener} [/INST]`;
    turns.forEach((m, i) => {
      const last = i === turns.length - 1;
      text += m.role === 'assistant' ? ` ${m.content}</s>` : `[INST] ${m.content}${last ? `\n\n${task}` : ''} [/INST]`;
    });
    context = text;
  } else context = `[INST] ${opener} [/INST]`;
  return {context, full: `${context} ${gold}`};
}

/** `logprobs/m{t}/{split}[/condition]`: summed log p_m0(gold | context) for every conversation of every key. */
export const scoreLogprobs = rule<ScoreParams>('score-logprobs', async ({deps, params, out, shard, signal}) => {
  const sim = readJsonl<Conversations>(depFile(deps, `sim/${params.questioner}/${params.split}`));
  const gold = new Map(readJsonl<Gold>(depFile(deps, `gold/${params.split}`)).map((g) => [g.key, g]));
  const tasks = new Map(readJsonl<Task>(depFile(deps, `tasks/${params.split}`)).map((t) => [t.id, t.text]));
  const personas = new Map(readJsonl<Persona>(depFile(deps, `personas/${params.split}`)).map((p) => [p.id, p.text]));
  const names = new Map(readJsonl<PersonaName>(depFile(deps, `names/${params.split}`)).map((n) => [n.id, n.name]));
  const scorer = servedModel('scorer');
  const score = async (text: {context: string; full: string}): Promise<number> => {
    const r = await scorer.completions.create({model: params.scorer.model, prompt: text.full, max_tokens: 1, temperature: 0, echo: true, logprobs: 1}, {signal});
    return sumAnswer(r.choices[0]?.logprobs ?? undefined, text.context.length, text.full.length);
  };
  const perConversation = params.condition === 'qa-experimental' || params.condition === 'pos-control-1';
  const rows = await mapLimit(shardOf(sim, shard), params.concurrency, async (row): Promise<Logprobs> => {
    const g = gold.get(row.key);
    if (!g) throw new Error(`no gold answer for ${row.key}`);
    const [name, task, persona] = [names.get(g.persona), tasks.get(g.task), personas.get(g.persona)];
    if (name === undefined || task === undefined || persona === undefined) throw new Error(`${row.key}: task, persona or name missing`);
    const convs = perConversation ? row.conversations : [[]];
    const logprobs = await mapLimit(convs, 4, (turns) => score(scoringText(params.condition, name, task, persona, turns, g.text)));
    return {key: row.key, logprobs};
  }, signal);
  writeJsonl(out, rows);
});

/**
 * Sums the log-probabilities of the answer's tokens: those starting at or after the context's end
 * and before the end of the scored text (the one generated token is not part of it).
 */
export function sumAnswer(lp: {tokens?: string[]; token_logprobs?: (number | null)[]; text_offset?: number[]} | undefined, start: number, end: number): number {
  if (!lp?.token_logprobs || !lp.text_offset) throw new Error('the scorer returned no prompt log-probabilities (does it support echo with logprobs?)');
  let sum = 0;
  let counted = 0;
  lp.text_offset.forEach((offset, i) => {
    const v = lp.token_logprobs![i];
    if (offset >= start && offset < end && typeof v === 'number') {
      sum += v;
      counted++;
    }
  });
  if (counted === 0) throw new Error('no answer tokens were scored');
  return sum;
}

/** `top1/m{t}/{split}`: the conversation of each key that makes the oracle answer most likely (k = 1). */
export const topOne = rule<{scores: string}>('top-1', ({deps, out, params}) => {
  const scores = readJsonl<Logprobs>(depFile(deps, params.scores));
  writeJsonl(out, scores.map((s) => {
    let best = 0;
    s.logprobs.forEach((v, i) => {
      if (v > s.logprobs[best]!) best = i;
    });
    return {key: s.key, index: best, logprob: s.logprobs[best]!};
  }));
});
