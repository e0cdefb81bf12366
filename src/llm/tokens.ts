import {createRequire} from 'node:module';
import type {ChatMessage} from './types.js';

type Counter = (text: string) => number;
const counters = new Map<string, Counter>();
const require = createRequire(import.meta.url);

/**
 * Token counts for estimates, with the encoding the model family uses (cl100k for gpt-4 and
 * gpt-4-turbo, o200k for gpt-4o). Models outside OpenAI's families (Mistral under vLLM) use
 * another tokenizer; for them cl100k is a fair estimate, and only the limiter relies on it.
 */
function counterFor(model: string): Counter {
  const encoding = /^(gpt-4o|gpt-4\.1|o\d)/.test(model) ? 'o200k_base' : 'cl100k_base';
  let c = counters.get(encoding);
  if (!c) {
    const mod = require(`gpt-tokenizer/cjs/encoding/${encoding}`) as {countTokens: (t: string) => number};
    c = (t) => mod.countTokens(t);
    counters.set(encoding, c);
  }
  return c;
}

/** Prompt tokens of a chat: content plus OpenAI's per-message framing (3 per message, 3 to prime). */
export function promptTokens(model: string, messages: readonly ChatMessage[]): number {
  const count = counterFor(model);
  let n = 3;
  for (const m of messages) n += 3 + count(m.content) + 1;
  return n;
}

/** What the limiter reserves before a call: the prompt plus every completion at its maximum. */
export function reservedTokens(model: string, messages: readonly ChatMessage[], maxTokens: number, n = 1): number {
  return promptTokens(model, messages) + n * maxTokens;
}
