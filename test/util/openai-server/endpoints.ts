/**
 * The two model endpoints, /v1/chat/completions and /v1/completions, as pure(ish) functions
 * from a parsed request body to a status and JSON body.
 *
 * They are separate from the HTTP layer because batches run the very same code on each line
 * of an input file: a batch result must be byte-for-byte what the synchronous call would have
 * produced (apart from ids), or tests comparing the two paths would be meaningless.
 *
 * Validation mirrors the errors OpenAI returns for the parameters a build system is likely to
 * get wrong (missing model/messages, top_logprobs without logprobs, out-of-range values).
 */
import {
  chatPromptChars,
  messageText,
  scoreTokens,
  topAlternatives,
  type ChatMessage,
  type FinishReason,
  type LogprobScorer,
  type ModelReply,
  type Responder,
} from './responders.js';
import {estimateTokens, invalidRequest, isRecord, sha256Hex, tokenize, type IdGenerator, type JsonResult} from './util.js';

/** max_tokens assumed when a request does not set one (OpenAI's /v1/completions default). */
export const DEFAULT_MAX_TOKENS = 16;

/** Largest `logprobs` accepted on /v1/completions (vLLM's default --max-logprobs). */
export const MAX_COMPLETION_LOGPROBS = 20;

export interface EndpointContext {
  responder: Responder;
  scorer: LogprobScorer;
  ids: IdGenerator;
  /** Unix seconds, for `created`. */
  nowSeconds: () => number;
  source: 'sync' | 'batch';
  /** The 'refusal' fault: answer 200 but refuse instead of calling the responder. */
  forceRefusal?: boolean;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** A handler's answer; `completed` is true when it is a 200 carrying a model answer. */
export interface ModelResult extends JsonResult {
  completed: boolean;
  usage?: Usage;
}

const REFUSAL_TEXT = "I'm sorry, but I can't help with that request.";

function fail(result: JsonResult): ModelResult {
  return {...result, completed: false};
}

/**
 * Reads optional numeric parameters, keeping the first validation error, so a handler can read
 * all its parameters and then check once.
 */
class Params {
  error: ModelResult | null = null;
  constructor(private readonly body: Record<string, unknown>) {}

  int(name: string, min: number, max: number): number | null {
    const v = this.body[name];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.error ??= fail(invalidRequest(
        `Invalid '${name}': expected an integer between ${min} and ${max}, got ${JSON.stringify(v)}.`,
        name,
        'invalid_value',
      ));
      return null;
    }
    return v;
  }

  num(name: string, min: number, max: number): number | null {
    const v = this.body[name];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      this.error ??= fail(invalidRequest(`Invalid '${name}': expected a number between ${min} and ${max}.`, name, 'invalid_value'));
      return null;
    }
    return v;
  }
}

function fingerprint(model: string): string {
  return `fp_${sha256Hex(`fingerprint:${model}`).slice(0, 10)}`;
}

/** Common checks; returns the model or an error. */
function checkCommon(body: unknown): {body: Record<string, unknown>; model: string} | {error: ModelResult} {
  if (!isRecord(body)) {
    return {error: fail(invalidRequest('We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.'))};
  }
  if (typeof body.model !== 'string' || body.model.length === 0) {
    return {error: fail(invalidRequest('you must provide a model parameter', 'model'))};
  }
  if (body.stream === true) {
    return {error: fail(invalidRequest('This test server does not implement stream=true.', 'stream', 'unsupported_value'))};
  }
  return {body, model: body.model};
}

/** Token cost a request is charged at admission: prompt chars / 4 + n × max_tokens. */
export function requestTokenCost(endpoint: 'chat' | 'completions', body: unknown): number {
  if (!isRecord(body)) return 0;
  const n = typeof body.n === 'number' && body.n > 0 ? body.n : 1;
  const maxTokensRaw = body.max_completion_tokens ?? body.max_tokens;
  const maxTokens = typeof maxTokensRaw === 'number' && maxTokensRaw >= 0 ? maxTokensRaw : DEFAULT_MAX_TOKENS;
  if (endpoint === 'chat') {
    const messages = Array.isArray(body.messages) ? (body.messages as ChatMessage[]) : [];
    return estimateTokens(chatPromptChars(messages)) + maxTokens * n;
  }
  const prompts = typeof body.prompt === 'string' ? [body.prompt] : Array.isArray(body.prompt) ? body.prompt : [];
  let chars = 0;
  for (const p of prompts) if (typeof p === 'string') chars += p.length;
  return estimateTokens(chars) + maxTokens * n * Math.max(1, prompts.length);
}

/** Chat logprob entries for a piece of generated text. */
function chatLogprobEntries(text: string, prefixText: string, topK: number, ctx: EndpointContext, model: string) {
  const scored = scoreTokens(text, {scorer: ctx.scorer, model, prefixText});
  return scored.tokens.map((token, i) => {
    const logprob = scored.logprobs[i] ?? 0;
    return {
      token,
      logprob,
      bytes: [...Buffer.from(token, 'utf8')],
      top_logprobs: topK === 0
        ? []
        : topAlternatives(token, logprob, topK).map((alt) => ({token: alt.token, logprob: alt.logprob, bytes: [...Buffer.from(alt.token, 'utf8')]})),
    };
  });
}

/**
 * /v1/chat/completions. Token counts use the chars / 4 estimate (for usage and for the
 * max_tokens cut, which sets finish_reason 'length'); logprobs list toy-tokenizer tokens.
 */
export async function handleChatCompletion(rawBody: unknown, ctx: EndpointContext): Promise<ModelResult> {
  const common = checkCommon(rawBody);
  if ('error' in common) return common.error;
  const {body, model} = common;

  if (!Array.isArray(body.messages)) {
    return fail(invalidRequest("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter'));
  }
  if (body.messages.length === 0) {
    return fail(invalidRequest("Invalid 'messages': empty array. Expected an array with minimum length 1.", 'messages', 'empty_array'));
  }
  const messages = body.messages as ChatMessage[];
  for (const [i, m] of messages.entries()) {
    if (!isRecord(m) || typeof m.role !== 'string') {
      return fail(invalidRequest(`Invalid 'messages[${i}]': each message needs a 'role'.`, `messages[${i}]`, 'invalid_value'));
    }
  }
  const params = new Params(body);
  const n = params.int('n', 1, 128);
  const topLogprobs = params.int('top_logprobs', 0, 20);
  const maxCompletionTokens = params.int('max_completion_tokens', 1, 1_000_000);
  const legacyMaxTokens = params.int('max_tokens', 1, 1_000_000);
  const temperature = params.num('temperature', 0, 2);
  const seed = params.int('seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (params.error) return params.error;
  if (body.logprobs !== undefined && body.logprobs !== null && typeof body.logprobs !== 'boolean') {
    return fail(invalidRequest("Invalid 'logprobs': expected a boolean.", 'logprobs', 'invalid_type'));
  }
  const wantLogprobs = body.logprobs === true;
  if (topLogprobs !== null && !wantLogprobs) {
    return fail(invalidRequest("Invalid 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.", 'top_logprobs', 'invalid_value'));
  }

  const choicesWanted = n ?? 1;
  const budget = maxCompletionTokens ?? legacyMaxTokens;
  const promptTokens = estimateTokens(chatPromptChars(messages));
  const promptText = `${messages.map((m) => `${m.role}: ${messageText(m.content)}`).join('\n')}\nassistant: `;

  const choices: unknown[] = [];
  let completionTokens = 0;
  let promptTokensOverride: number | undefined;
  for (let index = 0; index < choicesWanted; index++) {
    let reply: ModelReply;
    if (ctx.forceRefusal) {
      reply = {content: null, refusal: REFUSAL_TEXT};
    } else {
      reply = await ctx.responder({
        endpoint: 'chat',
        source: ctx.source,
        model,
        messages,
        prompt: null,
        choiceIndex: index,
        n: choicesWanted,
        maxTokens: budget,
        temperature,
        seed,
        body,
      });
    }
    if (index === 0 && reply.usage?.prompt_tokens !== undefined) promptTokensOverride = reply.usage.prompt_tokens;

    let content = reply.refusal !== undefined ? null : reply.content;
    let finish: FinishReason = reply.finishReason ?? 'stop';
    if (content !== null && budget !== null && estimateTokens(content.length) > budget) {
      content = content.slice(0, budget * 4);
      finish = reply.finishReason ?? 'length';
    }
    const visible = content ?? reply.refusal ?? '';
    completionTokens += reply.usage?.completion_tokens ?? estimateTokens(visible.length);

    let logprobs: unknown = null;
    if (wantLogprobs) {
      const entries = chatLogprobEntries(visible, promptText, topLogprobs ?? 0, ctx, model);
      logprobs = reply.refusal !== undefined ? {content: null, refusal: entries} : {content: entries, refusal: null};
    }
    choices.push({
      index,
      message: {role: 'assistant', content, refusal: reply.refusal ?? null, annotations: []},
      logprobs,
      finish_reason: finish,
    });
  }

  const usage: Usage = {
    prompt_tokens: promptTokensOverride ?? promptTokens,
    completion_tokens: completionTokens,
    total_tokens: (promptTokensOverride ?? promptTokens) + completionTokens,
  };
  return {
    status: 200,
    completed: true,
    usage,
    body: {
      id: ctx.ids.next('chatcmpl-'),
      object: 'chat.completion',
      created: ctx.nowSeconds(),
      model,
      choices,
      usage: {
        ...usage,
        prompt_tokens_details: {cached_tokens: 0, audio_tokens: 0},
        completion_tokens_details: {reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0},
      },
      service_tier: 'default',
      system_fingerprint: fingerprint(model),
    },
  };
}

/** `choices[i].logprobs` of /v1/completions, in the shape vLLM and legacy OpenAI share. */
interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

function appendScored(
  target: CompletionLogprobs,
  text: string,
  opts: {prefixText: string; base: number; k: number; firstIsNull: boolean; ctx: EndpointContext; model: string},
): void {
  const scored = scoreTokens(text, {
    scorer: opts.ctx.scorer,
    model: opts.model,
    prefixText: opts.prefixText,
    firstIsNull: opts.firstIsNull,
    positionBase: target.tokens.length,
  });
  scored.tokens.forEach((token, i) => {
    const lp = scored.logprobs[i] ?? null;
    target.tokens.push(token);
    target.token_logprobs.push(lp);
    target.top_logprobs.push(lp === null ? null : Object.fromEntries(topAlternatives(token, lp, opts.k).map((a) => [a.token, a.logprob])));
    target.text_offset.push(opts.base + (scored.offsets[i] ?? 0));
  });
}

/**
 * /v1/completions as vLLM serves it for scoring. With `echo` the prompt's own tokens come
 * first in `logprobs` (the first one with a null log-prob), followed by up to `max_tokens`
 * generated tokens; `text_offset` indexes into the returned `text`. Here, unlike chat, token
 * counts (usage and max_tokens) use the toy tokenizer, so usage matches the logprobs arrays.
 */
export async function handleCompletion(rawBody: unknown, ctx: EndpointContext): Promise<ModelResult> {
  const common = checkCommon(rawBody);
  if ('error' in common) return common.error;
  const {body, model} = common;

  let prompts: string[];
  if (typeof body.prompt === 'string') prompts = [body.prompt];
  else if (Array.isArray(body.prompt) && body.prompt.length > 0 && body.prompt.every((p) => typeof p === 'string')) prompts = body.prompt as string[];
  else if (body.prompt === undefined) return fail(invalidRequest("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter'));
  else return fail(invalidRequest("Invalid 'prompt': this test server accepts a string or an array of strings.", 'prompt', 'invalid_type'));

  const params = new Params(body);
  const n = params.int('n', 1, 128);
  const logprobsN = params.int('logprobs', 0, MAX_COMPLETION_LOGPROBS);
  const maxTokens = params.int('max_tokens', 0, 1_000_000);
  const temperature = params.num('temperature', 0, 2);
  const seed = params.int('seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (params.error) return params.error;
  const echo = body.echo === true;
  const budget = maxTokens ?? DEFAULT_MAX_TOKENS;
  if (budget === 0 && !echo) {
    return fail(invalidRequest("Invalid 'max_tokens': 0 is only allowed together with echo=true.", 'max_tokens', 'invalid_value'));
  }
  const choicesPerPrompt = n ?? 1;

  const choices: unknown[] = [];
  let promptTokens = 0;
  let completionTokens = 0;
  for (const [promptIndex, prompt] of prompts.entries()) {
    const promptTokenCount = tokenize(prompt).length;
    let promptTokensOverride: number | undefined;
    for (let j = 0; j < choicesPerPrompt; j++) {
      const index = promptIndex * choicesPerPrompt + j;
      let generated = '';
      let finish: FinishReason = 'length';
      if (ctx.forceRefusal) {
        finish = 'content_filter';
      } else if (budget > 0) {
        const reply = await ctx.responder({
          endpoint: 'completions',
          source: ctx.source,
          model,
          messages: [],
          prompt,
          choiceIndex: index,
          n: choicesPerPrompt,
          maxTokens: budget,
          temperature,
          seed,
          body,
        });
        if (j === 0 && reply.usage?.prompt_tokens !== undefined) promptTokensOverride = reply.usage.prompt_tokens;
        generated = reply.content ?? reply.refusal ?? '';
        const tokens = tokenize(generated);
        finish = reply.finishReason ?? 'stop';
        if (tokens.length > budget) {
          generated = tokens.slice(0, budget).join('');
          finish = reply.finishReason ?? 'length';
        }
        completionTokens += reply.usage?.completion_tokens ?? Math.min(tokens.length, budget);
      }

      let logprobs: CompletionLogprobs | null = null;
      if (logprobsN !== null) {
        const k = Math.max(1, logprobsN);
        logprobs = {tokens: [], token_logprobs: [], top_logprobs: [], text_offset: []};
        if (echo) appendScored(logprobs, prompt, {prefixText: '', base: 0, k, firstIsNull: true, ctx, model});
        appendScored(logprobs, generated, {prefixText: prompt, base: echo ? prompt.length : 0, k, firstIsNull: false, ctx, model});
      }
      choices.push({index, text: echo ? prompt + generated : generated, logprobs, finish_reason: finish});
    }
    promptTokens += promptTokensOverride ?? promptTokenCount;
  }

  const usage: Usage = {prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens};
  return {
    status: 200,
    completed: true,
    usage,
    body: {
      id: ctx.ids.next('cmpl-'),
      object: 'text_completion',
      created: ctx.nowSeconds(),
      model,
      choices,
      usage,
      system_fingerprint: fingerprint(model),
    },
  };
}
