import {describe, expect, test} from 'vitest';
import {M0} from '../../src/world/policy.js';
import {chatCompletion, modelList, textCompletion, type Served} from '../../src/world/protocol.js';
import {ROLE_NAMES} from '../../src/world/roles/index.js';
import {TASKS} from '../../src/world/tasks.js';

const served: Served = {policy: M0, fingerprint: 'world-test', now: 1_700_000_000_000};
const ok = <T>(r: {ok: true; value: T} | {ok: false; error: unknown}): T => {
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
};

interface ChatBody {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: {index: number; message: {role: string; content: string}; finish_reason: string; logprobs: null | {content: {token: string; logprob: number; top_logprobs: unknown[]}[]}}[];
  usage: {prompt_tokens: number; completion_tokens: number; total_tokens: number};
}

interface TextBody {
  object: string;
  choices: {index: number; text: string; finish_reason: string; logprobs: {tokens: string[]; token_logprobs: (number | null)[]; text_offset: number[]; top_logprobs: unknown[]} | null}[];
  usage: {prompt_tokens: number; completion_tokens: number};
}

const opener = [{role: 'user', content: `Ask Maya one clarifying question. The initial request is as follows: ${TASKS[0]!.text}`}];

describe('chat completions', () => {
  test('OpenAI shape, n choices, usage', () => {
    const r = ok(chatCompletion({model: 'world-questioner@m0', messages: opener, n: 10, temperature: 0.9}, served)) as unknown as ChatBody;
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe('world-questioner@m0');
    expect(r.created).toBe(1_700_000_000);
    expect(r.id).toMatch(/^chatcmpl-/);
    expect(r.choices.map((c) => c.index)).toEqual([...Array(10).keys()]);
    for (const c of r.choices) {
      expect(c.message.role).toBe('assistant');
      expect(c.message.content).toMatch(/\?$/);
      expect(c.finish_reason).toBe('stop');
    }
    expect(r.usage.prompt_tokens).toBeGreaterThan(15);
    expect(r.usage.total_tokens).toBe(r.usage.prompt_tokens + r.usage.completion_tokens);
  });

  test('choice i is the same whether n is 1 or 10', () => {
    const ten = ok(chatCompletion({model: 'world-questioner', messages: opener, n: 10}, served)) as unknown as ChatBody;
    const one = ok(chatCompletion({model: 'world-questioner', messages: opener}, served)) as unknown as ChatBody;
    expect(one.choices[0]!.message.content).toBe(ten.choices[0]!.message.content);
  });

  test('max_tokens cuts the text; logprobs come per token', () => {
    const body = {model: 'world-answerer', messages: [{role: 'user', content: TASKS[3]!.text}], max_tokens: 5, logprobs: true, top_logprobs: 1};
    const r = ok(chatCompletion(body, served)) as unknown as ChatBody;
    const c = r.choices[0]!;
    expect(c.finish_reason).toBe('length');
    expect(c.logprobs!.content).toHaveLength(5);
    expect(c.logprobs!.content.map((t) => t.token).join('')).toBe(c.message.content);
    expect(c.logprobs!.content[0]!.top_logprobs).toHaveLength(1);
    expect(r.usage.completion_tokens).toBe(5);
  });

  test('content given as parts is read as text', () => {
    const r = ok(chatCompletion({model: 'world-questioner', messages: [{role: 'user', content: [{type: 'text', text: opener[0]!.content}]}]}, served)) as unknown as ChatBody;
    expect(r.choices[0]!.message.content).toMatch(/\?$/);
  });

  test('errors look like OpenAI errors', () => {
    const unknown = chatCompletion({model: 'gpt-4', messages: opener}, served);
    expect(unknown.ok || unknown.error).toMatchObject({status: 404, code: 'model_not_found', param: 'model'});
    expect(chatCompletion({model: 'world-judge', messages: []}, served).ok).toBe(false);
    const streamed = chatCompletion({model: 'world-judge', messages: opener, stream: true}, served);
    expect(streamed.ok || streamed.error.status).toBe(400);
  });
});

describe('completions with echo (prompt log-probs)', () => {
  const prompt = `<s>[INST]My name is Maya.\n\n${TASKS[0]!.text}[/INST]Do you follow any particular diet?</s>[INST] I follow a vegan diet. [/INST]\n\n${TASKS[0]!.text}[/INST]Maya, since you follow a vegan diet, here is a plan.`;

  test('max_tokens 0: exactly the prompt tokens, first log-prob null, exact offsets', () => {
    const r = ok(textCompletion({model: 'world-scorer', prompt, echo: true, logprobs: 1, max_tokens: 0, temperature: 0}, served)) as unknown as TextBody;
    const c = r.choices[0]!;
    const lp = c.logprobs!;
    expect(r.object).toBe('text_completion');
    expect(c.text).toBe(prompt);
    expect(lp.tokens.join('')).toBe(prompt);
    expect(lp.token_logprobs[0]).toBeNull();
    expect(lp.top_logprobs[0]).toBeNull();
    lp.tokens.forEach((t, i) => expect(prompt.slice(lp.text_offset[i]!, lp.text_offset[i]! + t.length)).toBe(t));
    expect(r.usage.prompt_tokens).toBe(lp.tokens.length);
  });

  test('max_tokens 1 appends one generated token after the prompt', () => {
    const r = ok(textCompletion({model: 'world-scorer', prompt, echo: true, logprobs: 1, max_tokens: 1}, served)) as unknown as TextBody;
    const zero = ok(textCompletion({model: 'world-scorer', prompt, echo: true, logprobs: 1, max_tokens: 0}, served)) as unknown as TextBody;
    const lp = r.choices[0]!.logprobs!;
    expect(lp.tokens).toHaveLength(zero.choices[0]!.logprobs!.tokens.length + 1);
    expect(lp.text_offset.at(-1)).toBe(prompt.length);
    expect(lp.token_logprobs.slice(0, -1)).toEqual(zero.choices[0]!.logprobs!.token_logprobs);
  });

  test('an array of prompts gives one choice per prompt', () => {
    const r = ok(textCompletion({model: 'world-scorer', prompt: ['a b c', 'd e'], echo: true, logprobs: 0, max_tokens: 0}, served)) as unknown as TextBody;
    expect(r.choices.map((c) => c.logprobs!.tokens.join(''))).toEqual(['a b c', 'd e']);
  });

  test('other roles complete a raw prompt as they would chat', () => {
    const r = ok(textCompletion({model: 'world-questioner', prompt: opener[0]!.content, max_tokens: 100}, served)) as unknown as TextBody;
    expect(r.choices[0]!.text).toMatch(/\?$/);
  });
});

test('the model list names every role', () => {
  expect((modelList(0)['data'] as {id: string}[]).map((m) => m.id)).toEqual([...ROLE_NAMES]);
});
