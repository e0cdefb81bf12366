/**
 * What the fake model "says" and how it scores tokens.
 *
 * Both are pluggable so a test can script exact replies (for example an oracle that answers in
 * a known format) or exact log-probs (to check that a scoring step sums the right span).
 * The defaults are pure functions of the request, so the same request always yields the same
 * reply; tests can call them directly to predict what the server will return.
 */
import {canonicalJson, fnv1a32, sha256Hex, tokenize} from './util.js';

/** A chat message as received; content may be a string or an array of content parts. */
export interface ChatMessage {
  role: string;
  content?: unknown;
  name?: string;
  [key: string]: unknown;
}

/** The normalised request handed to a responder, once per choice. */
export interface ModelRequest {
  endpoint: 'chat' | 'completions';
  /** 'batch' when the request comes from a batch input file rather than an HTTP call. */
  source: 'sync' | 'batch';
  model: string;
  /** Chat messages; empty for /v1/completions. */
  messages: ChatMessage[];
  /** The prompt of this choice for /v1/completions; null for chat. */
  prompt: string | null;
  /** Which of the `n` choices (and, for completions with several prompts, which slot) this is. */
  choiceIndex: number;
  n: number;
  /** max_completion_tokens ?? max_tokens, or null when the request set neither. */
  maxTokens: number | null;
  temperature: number | null;
  seed: number | null;
  /** The raw request body, for responders that need fields not listed above. */
  body: Record<string, unknown>;
}

export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls';

/** What a responder returns. The server truncates `content` to the token budget itself. */
export interface ModelReply {
  content: string | null;
  /** Set to make the assistant refuse (chat only): content becomes null, `message.refusal` is set. */
  refusal?: string;
  finishReason?: FinishReason;
  /** Override the estimated usage of this choice. */
  usage?: {prompt_tokens?: number; completion_tokens?: number};
}

export type Responder = (request: ModelRequest) => ModelReply | Promise<ModelReply>;

/** Input to a log-prob scorer: one token and everything before it in the same text. */
export interface ScoreInput {
  token: string;
  /** Text preceding the token (prompt and, for generated tokens, earlier generated text). */
  prefix: string;
  /** Token index within the choice's token list. */
  position: number;
  model: string;
}

/** Returns log p(token | prefix); must be <= 0. */
export type LogprobScorer = (input: ScoreInput) => number;

const WORDS = [
  'alpha', 'bravo', 'cedar', 'delta', 'ember', 'fjord', 'garnet', 'harbor', 'indigo', 'juniper',
  'kelp', 'lumen', 'maple', 'nectar', 'onyx', 'pebble', 'quartz', 'raven', 'sierra', 'tundra',
  'umber', 'velvet', 'willow', 'xenon', 'yarrow', 'zephyr', 'amber', 'basil', 'cobalt', 'dune',
  'fennel', 'glacier',
];

/** Plain text of a message's content, whether a string or an array of `{type:'text', text}` parts. */
export function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (part !== null && typeof part === 'object' && typeof (part as {text?: unknown}).text === 'string'
        ? (part as {text: string}).text
        : ''))
      .join('');
  }
  return '';
}

/** Characters of prompt text in a chat request, the basis of the chars/4 token estimate. */
export function chatPromptChars(messages: ChatMessage[]): number {
  let chars = 0;
  for (const m of messages) chars += messageText(m.content).length;
  return chars;
}

/**
 * Default responder. The reply is derived from a sha256 of the model, the messages (or
 * prompt) and the seed. Choices of one request differ only when temperature is not 0, as
 * with a real sampler; at temperature 0 all `n` choices are identical.
 */
export function defaultResponder(request: ModelRequest): ModelReply {
  const sample = request.temperature === 0 ? 0 : request.choiceIndex;
  const material = canonicalJson({
    model: request.model,
    messages: request.endpoint === 'chat' ? request.messages : undefined,
    prompt: request.prompt ?? undefined,
    seed: request.seed ?? undefined,
    sample,
  });
  const digest = sha256Hex(material);
  const count = 6 + (parseInt(digest.slice(0, 2), 16) % 10);
  const words: string[] = [];
  for (let i = 0; i < count; i++) {
    const byte = parseInt(digest.slice(2 + 2 * i, 4 + 2 * i), 16);
    words.push(WORDS[byte % WORDS.length] ?? 'alpha');
  }
  const content = request.endpoint === 'chat'
    ? `Reply ${digest.slice(0, 8)}: ${words.join(' ')}.`
    : ` ${words.join(' ')}.`;
  return {content};
}

/**
 * Default scorer: a deterministic value in [-8, -0.01) from a hash of the token and the last
 * 64 characters before it (hashing the whole prefix would make long prompts quadratic).
 */
export function defaultScorer(input: ScoreInput): number {
  const h = fnv1a32(`${input.prefix.slice(-64)}\u241e${input.token}`);
  const value = -(0.01 + ((h % 100_000) / 100_000) * 7.99);
  return Math.round(value * 10_000) / 10_000;
}

/**
 * Scores every token of `text` in order. Returns the tokens, their character offsets within
 * `text`, and their log-probs. `prefixText` is the context before `text` (passed on to the
 * scorer); when it is empty and `firstIsNull` is set, the first token gets null, because a
 * model has no context for the first token of a sequence.
 */
export function scoreTokens(
  text: string,
  opts: {scorer: LogprobScorer; model: string; prefixText?: string; firstIsNull?: boolean; positionBase?: number},
): {tokens: string[]; offsets: number[]; logprobs: (number | null)[]} {
  const prefixText = opts.prefixText ?? '';
  const full = prefixText + text;
  const tokens = tokenize(text);
  const offsets: number[] = [];
  const logprobs: (number | null)[] = [];
  let offset = 0;
  tokens.forEach((token, i) => {
    offsets.push(offset);
    if (i === 0 && opts.firstIsNull && prefixText.length === 0) {
      logprobs.push(null);
    } else {
      const prefix = full.slice(0, prefixText.length + offset);
      const value = opts.scorer({token, prefix, position: (opts.positionBase ?? 0) + i, model: opts.model});
      logprobs.push(Math.min(0, value));
    }
    offset += token.length;
  });
  return {tokens, offsets, logprobs};
}

/**
 * Deterministic alternatives for `top_logprobs`: the actual token first (as if greedy decoding
 * had picked it), then `k - 1` other words with strictly lower log-probs.
 */
export function topAlternatives(token: string, logprob: number, k: number): Array<{token: string; logprob: number}> {
  const out = [{token, logprob}];
  const h = fnv1a32(token);
  for (let i = 0; out.length < k && i < WORDS.length * 2; i++) {
    const candidate = ` ${WORDS[(h + i * 7) % WORDS.length] ?? 'alpha'}`;
    if (candidate === token || out.some((o) => o.token === candidate)) continue;
    out.push({token: candidate, logprob: Math.round((logprob - 0.5 * out.length - ((h >>> i) % 7) / 10) * 10_000) / 10_000});
  }
  return out;
}
