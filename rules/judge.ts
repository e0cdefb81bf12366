import {llmRule} from 'stage';
import {depFile, readJsonl, writeJsonl} from './lib/io.js';
import {splitKey} from './lib/keys.js';
import {chat, loadPrompt} from './lib/prompt.js';
import {prng, seedOf} from './lib/random.js';
import type {Judgment, Persona, Response, Task} from './lib/types.js';

interface JudgeParams {
  model: string;
  baseline: string;
  seed: number;
  sampling: {temperature: number; top_p: number; max_tokens: number};
  expected: number;
}

/** Whether the model's answer is shown first (A) for a key: a coin per key from the seed, against position bias. */
export function modelShownAs(key: string, seed: number): 'A' | 'B' {
  return prng(seedOf('judge-position', seed, key))() < 0.5 ? 'A' : 'B';
}

/** The verdict letter after "Final Response:", or undefined when the judge did not give one. */
export function verdictOf(text: string): 'A' | 'B' | 'tie' | undefined {
  const m = /Final Response:\s*\**\s*([AB]|tie)\b/i.exec(text);
  if (!m) return undefined;
  const v = m[1]!.toUpperCase();
  return v === 'TIE' ? 'tie' : (v as 'A' | 'B');
}

/**
 * `judgments/m{k}`: the judge compares m_k's answer with the baseline's for every selected test
 * key, with the positions drawn per key. Every verdict is kept: ties, unparseable replies and
 * items the endpoint refused are counted, never dropped.
 */
export const judge = llmRule<JudgeParams>('judge', {
  roles: ['judge'],
  maxFailures: 1_000_000,
  requests: ({deps, inputs, params}) => {
    const prompt = loadPrompt(inputs[0]!);
    const mine = readJsonl<Response>(depFile(deps, `responses/${params.model}`));
    const base = new Map(readJsonl<Response>(depFile(deps, `responses/${params.baseline}`)).map((r) => [r.key, r]));
    const personas = new Map(readJsonl<Persona>(depFile(deps, 'personas/test')).map((p) => [p.id, p.text]));
    const tasks = new Map(readJsonl<Task>(depFile(deps, 'tasks/test')).map((t) => [t.id, t.text]));
    return mine.map((r) => {
      const b = base.get(r.key);
      if (!b) throw new Error(`the baseline has no answer for ${r.key}: both must answer the same keys`);
      const {task, persona} = splitKey(r.key);
      const shown = modelShownAs(r.key, params.seed);
      const [a, bb] = shown === 'A' ? [r.text, b.text] : [b.text, r.text];
      return {id: r.key, role: 'judge', messages: chat(prompt, {persona: personas.get(persona)!, task: tasks.get(task)!, a, b: bb}), params: params.sampling};
    });
  },
  assemble: ({deps, out, params}, results) => {
    const groups = new Map(readJsonl<Response>(depFile(deps, `responses/${params.model}`)).map((r) => [r.key, r.group]));
    writeJsonl(out, results.map((r): Judgment => {
      const shown = modelShownAs(r.id, params.seed);
      const group = groups.get(r.id)!;
      if (!r.ok) return {key: r.id, group, modelShownAs: shown, winner: 'no-answer', raw: `${r.reason}: ${r.message}`};
      const v = verdictOf(r.content);
      const winner = v === undefined ? 'unparseable' : v === 'tie' ? 'tie' : v === shown ? 'model' : 'baseline';
      return {key: r.id, group, modelShownAs: shown, winner, raw: r.content};
    }));
  },
  estimate: (p) => ({calls: p.expected, promptTokens: 700, completionTokens: p.sampling.max_tokens, role: 'judge'}),
});
