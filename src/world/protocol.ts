/**
 * The OpenAI wire format, as pure functions: request bodies in, response bodies out. The
 * server only moves bytes; everything a client can observe is decided here, so it is tested
 * without sockets.
 */
import type {Message} from './conversation.js';
import type {Policy} from './policy.js';
import {hashOf, rngFor} from './prng.js';
import {ROLES, roleOf, type RoleName} from './roles/index.js';
import {continuationLogprobs, promptLogprobs, tokenize} from './scorer.js';
import {err, ok, type Result} from '../util/result.js';

/** An OpenAI-style error: HTTP status plus the body's `error` object. */
export interface ApiError {
  readonly status: number;
  readonly message: string;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
}

const bad = (message: string, param: string | null = null, code: string | null = null): ApiError => ({status: 400, message, type: 'invalid_request_error', param, code});

interface Sampling {
  readonly model: string;
  readonly role: RoleName;
  readonly n: number;
  readonly temperature: number;
  readonly seed: number | null;
  readonly maxTokens: number | null;
}

function sampling(body: Record<string, unknown>, defaultMaxTokens: number | null): Result<Sampling, ApiError> {
  const model = body['model'];
  if (typeof model !== 'string' || model === '') return err(bad('you must provide a model parameter', 'model'));
  const role = roleOf(model);
  if (!role) return err({status: 404, message: `The model \`${model}\` does not exist. This server is the stage model world; its models are world-* roles (see GET /v1/models).`, type: 'invalid_request_error', param: 'model', code: 'model_not_found'});
  if (body['stream'] === true) return err(bad('streaming is not supported by the model world', 'stream'));
  const n = body['n'] ?? 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 128) return err(bad('n must be a whole number from 1 to 128', 'n'));
  const temperature = body['temperature'] ?? 1;
  if (typeof temperature !== 'number' || temperature < 0 || temperature > 2) return err(bad('temperature must be a number from 0 to 2', 'temperature'));
  const seed = body['seed'] ?? null;
  if (seed !== null && (typeof seed !== 'number' || !Number.isInteger(seed))) return err(bad('seed must be an integer', 'seed'));
  const max = body['max_completion_tokens'] ?? body['max_tokens'] ?? defaultMaxTokens;
  if (max !== null && (typeof max !== 'number' || !Number.isInteger(max) || max < 0)) return err(bad('max_tokens must be a whole number', 'max_tokens'));
  return ok({model, role, n, temperature, seed, maxTokens: max});
}

function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) return undefined;
  const parts = content.map((p: unknown) => (typeof p === 'object' && p !== null && (p as {type?: unknown}).type === 'text' ? (p as {text?: unknown}).text : undefined));
  return parts.every((p) => typeof p === 'string') ? parts.join('') : undefined;
}

/** One generated choice before it is dressed as chat or text. */
interface Choice {
  readonly text: string;
  readonly finish: 'stop' | 'length';
}

/**
 * Runs the role for choice `index`, cutting the text at `maxTokens` tokens like a real server.
 * On the completions route the scorer, which is there for prompt log-probs, ends at once: it
 * writes a single line break, so `max_tokens: 1` adds exactly one token after the prompt.
 */
function generate(s: Sampling, messages: readonly Message[], policy: Policy, index: number, route: 'chat' | 'text'): Choice {
  const hash = hashOf({role: s.role, messages: messages.map((m) => [m.role, m.content]), seed: s.seed, temperature: s.temperature});
  const full = s.role === 'world-scorer' && route === 'text' ? '\n' : ROLES[s.role]({messages, temperature: s.temperature, rng: rngFor(hash, index), policy});
  if (s.maxTokens === null) return {text: full, finish: 'stop'};
  const {tokens} = tokenize(full);
  return tokens.length <= s.maxTokens ? {text: full, finish: 'stop'} : {text: tokens.slice(0, s.maxTokens).join(''), finish: 'length'};
}

/** What a response needs besides the request: when, and which policy is serving. */
export interface Served {
  readonly policy: Policy;
  readonly fingerprint: string;
  readonly now: number;
}

function requestId(prefix: string, body: unknown): string {
  return `${prefix}-${hashOf(body).slice(0, 24)}`;
}

/** `POST /v1/chat/completions`. */
export function chatCompletion(body: Record<string, unknown>, served: Served): Result<Record<string, unknown>, ApiError> {
  const s = sampling(body, null);
  if (!s.ok) return s;
  const raw = body['messages'];
  if (!Array.isArray(raw) || raw.length === 0) return err(bad('messages must be a non-empty array', 'messages'));
  const messages: Message[] = [];
  for (const [i, m] of raw.entries()) {
    const role = (m as {role?: unknown} | null)?.role;
    const content = contentText((m as {content?: unknown} | null)?.content);
    if (typeof role !== 'string' || content === undefined) return err(bad(`messages[${i}] needs a role and text content`, `messages[${i}]`));
    messages.push({role, content});
  }
  const wantLogprobs = body['logprobs'] === true;
  const top = typeof body['top_logprobs'] === 'number' ? body['top_logprobs'] : 0;
  const context = `${messages.map((m) => m.content).join('\n\n')}\n\n`;
  const choices = Array.from({length: s.value.n}, (_, index) => {
    const c = generate(s.value, messages, served.policy, index, 'chat');
    let logprobs: unknown = null;
    if (wantLogprobs) {
      const scored = continuationLogprobs(context, c.text);
      logprobs = {
        content: scored.tokens.map((token, j) => {
          const entry = {token, logprob: scored.logprobs[j]!, bytes: [...Buffer.from(token, 'utf8')]};
          return {...entry, top_logprobs: top > 0 ? [entry] : []};
        }),
        refusal: null,
      };
    }
    return {index, message: {role: 'assistant', content: c.text, refusal: null, annotations: []}, logprobs, finish_reason: c.finish};
  });
  const promptTokens = messages.reduce((sum, m) => sum + tokenize(m.content).tokens.length + 4, 3);
  const completionTokens = choices.reduce((sum, c) => sum + tokenize(c.message.content).tokens.length, 0);
  return ok({
    id: requestId('chatcmpl', body), object: 'chat.completion', created: Math.floor(served.now / 1000), model: s.value.model,
    system_fingerprint: served.fingerprint, choices,
    usage: {prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens},
  });
}

/**
 * `POST /v1/completions`, the route for prompt log-probs: with `echo: true` and `logprobs`, the
 * prompt's tokens come back with the scorer's log-prob of each (the first has none), followed
 * by the generated ones, as vLLM reports them.
 */
export function textCompletion(body: Record<string, unknown>, served: Served): Result<Record<string, unknown>, ApiError> {
  const s = sampling(body, 16);
  if (!s.ok) return s;
  const rawPrompt = body['prompt'];
  const prompts = typeof rawPrompt === 'string' ? [rawPrompt] : Array.isArray(rawPrompt) && rawPrompt.length > 0 && rawPrompt.every((p) => typeof p === 'string') ? (rawPrompt as string[]) : undefined;
  if (!prompts) return err(bad('prompt must be a string or a non-empty array of strings (token ids are not supported)', 'prompt'));
  const echo = body['echo'] === true;
  const k = body['logprobs'];
  if (k !== undefined && k !== null && (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > 20)) return err(bad('logprobs must be a whole number from 0 to 20', 'logprobs'));
  const wantLogprobs = typeof k === 'number';
  let promptTokens = 0;
  let completionTokens = 0;
  const choices = prompts.flatMap((prompt, p) => {
    const scoredPrompt = echo && wantLogprobs ? promptLogprobs(prompt) : undefined;
    promptTokens += tokenize(prompt).tokens.length;
    return Array.from({length: s.value.n}, (_, j) => {
      const c = generate(s.value, [{role: 'user', content: prompt}], served.policy, j, 'text');
      const gen = continuationLogprobs(prompt, c.text);
      completionTokens += gen.tokens.length;
      let logprobs: unknown = null;
      if (wantLogprobs) {
        const base = echo ? prompt.length : 0;
        const genOffsets: number[] = [];
        gen.tokens.reduce((at, t) => (genOffsets.push(base + at), at + t.length), 0);
        const tokens = [...(scoredPrompt?.tokens ?? []), ...gen.tokens];
        const tokenLogprobs = [...(scoredPrompt?.logprobs ?? []), ...gen.logprobs];
        logprobs = {
          tokens, token_logprobs: tokenLogprobs,
          top_logprobs: tokenLogprobs.map((lp, i) => (lp === null ? null : {[tokens[i]!]: lp})),
          text_offset: [...(scoredPrompt?.offsets ?? []), ...genOffsets],
        };
      }
      return {index: p * s.value.n + j, text: echo ? prompt + c.text : c.text, logprobs, finish_reason: c.finish};
    });
  });
  return ok({
    id: requestId('cmpl', body), object: 'text_completion', created: Math.floor(served.now / 1000), model: s.value.model,
    system_fingerprint: served.fingerprint, choices,
    usage: {prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens},
  });
}

/** `GET /v1/models`: one entry per role. */
export function modelList(now: number): Record<string, unknown> {
  const created = Math.floor(now / 1000);
  return {object: 'list', data: Object.keys(ROLES).map((id) => ({id, object: 'model', created, owned_by: 'stage-world'}))};
}
