import {llmRule} from 'stage';
import {depFile, readJsonl, writeJsonl} from './lib/io.js';
import {chat, loadPrompt} from './lib/prompt.js';
import type {Persona} from './lib/types.js';

/**
 * `moderation/{split}` (optional): asks the judge model whether each persona is fit for the study.
 * A persona the endpoint's content filter rejects is recorded as such, by id: that is the
 * finding, so such items are allowed to fail.
 */
export const moderate = llmRule<{split: string; count: number}>('moderate', {
  roles: ['judge'],
  maxFailures: 1_000_000,
  requests: ({deps, inputs, params}) => {
    const prompt = loadPrompt(inputs[0]!);
    return readJsonl<Persona>(depFile(deps, `personas/${params.split}`)).map((p) => ({
      id: p.id, role: 'judge', messages: chat(prompt, {persona: p.text}), params: {temperature: 0, max_tokens: 60},
    }));
  },
  assemble: ({out}, results) => {
    writeJsonl(out, results.map((r) => r.ok
      ? {id: r.id, verdict: /^\s*unsafe/i.test(r.content) ? 'unsafe' : 'safe', text: r.content.trim()}
      : {id: r.id, verdict: 'no-answer', text: `${r.reason}: ${r.message}`}));
  },
  estimate: (p) => ({calls: p.count, promptTokens: 200, completionTokens: 60, role: 'judge'}),
});
