/**
 * The scorer: per-token log-probabilities of a text, standing in for the m0 model whose prompt
 * log-probs rank conversations. The one property that matters to STaR-GATE holds by
 * construction: a value phrase the text already mentioned is cheap to say again (about -0.2
 * per token), a value phrase said for the first time is expensive (about -4 per token), and
 * everything else costs about -1.2. So log p(oracle response | conversation) rises by a fixed
 * amount for every relevant fact the conversation drew out of the user, and by nothing for
 * irrelevant ones. A small jitter, a pure function of the token and its predecessor, keeps the
 * numbers from looking synthetic without making them depend on anything else.
 */
import {findMentions, type Mention, type Span} from './recognise.js';

export const LOGPROB_SEEN = -0.2;
export const LOGPROB_UNSEEN = -4;
export const LOGPROB_OTHER = -1.2;
const JITTER = 0.05;

export interface Tokenized {
  readonly tokens: string[];
  /** Where each token starts in the text, in UTF-16 code units (JavaScript string indices). */
  readonly offsets: number[];
}

/**
 * Splits text into tokens that concatenate back to it exactly: each word or punctuation mark
 * carries the whitespace before it (as BPE tokenizers do), and trailing whitespace is a token.
 */
export function tokenize(text: string): Tokenized {
  const tokens: string[] = [];
  const offsets: number[] = [];
  for (const m of text.matchAll(/\s*(?:[\p{L}\p{N}]+|[^\s\p{L}\p{N}])|\s+$/gu)) {
    tokens.push(m[0]);
    offsets.push(m.index);
  }
  return {tokens, offsets};
}

/** FNV-1a: a cheap, stable hash for the jitter, called once per token. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function jitter(previous: string, token: string): number {
  return ((fnv1a(`${previous.trim().toLowerCase()}\u0000${token.trim().toLowerCase()}`) / 0xffffffff) * 2 - 1) * JITTER;
}

/** For each mention, whether the same value was mentioned before it. */
function seenBefore(mentions: readonly Mention[]): boolean[] {
  const seen = new Set<string>();
  return mentions.map((m) => {
    const before = seen.has(m.value.phrase);
    seen.add(m.value.phrase);
    return before;
  });
}

/**
 * The log-prob of each token span of `text` given everything before it. `spans` must be in
 * order; a token's leading whitespace does not make it part of a value phrase.
 */
export function scoreSpans(text: string, spans: readonly Span[], previousToken = ''): number[] {
  const mentions = findMentions(text);
  const seen = seenBefore(mentions);
  let k = 0;
  let previous = previousToken;
  return spans.map((span) => {
    const token = text.slice(span.start, span.end);
    const start = span.start + (token.length - token.trimStart().length);
    while (k < mentions.length && mentions[k]!.end <= start) k++;
    const inside = k < mentions.length && mentions[k]!.start < span.end && start < span.end;
    const base = inside ? (seen[k] ? LOGPROB_SEEN : LOGPROB_UNSEEN) : LOGPROB_OTHER;
    const lp = base + jitter(previous, token);
    previous = token;
    return Math.round(lp * 1e4) / 1e4;
  });
}

function spansOf(t: Tokenized): Span[] {
  return t.tokens.map((tok, i) => ({start: t.offsets[i]!, end: t.offsets[i]! + tok.length}));
}

/** Prompt log-probs as `/v1/completions` with `echo` reports them: the first token has none. */
export function promptLogprobs(text: string): {tokens: string[]; offsets: number[]; logprobs: (number | null)[]} {
  const t = tokenize(text);
  const scores: (number | null)[] = scoreSpans(text, spansOf(t));
  if (scores.length > 0) scores[0] = null;
  return {tokens: t.tokens, offsets: t.offsets, logprobs: scores};
}

/** The log-probs of `continuation`'s own tokens, each given `context` and what came before it. */
export function continuationLogprobs(context: string, continuation: string): {tokens: string[]; logprobs: number[]} {
  const t = tokenize(continuation);
  const ctx = tokenize(context);
  const spans = spansOf(t).map((s) => ({start: s.start + context.length, end: s.end + context.length}));
  return {tokens: t.tokens, logprobs: scoreSpans(context + continuation, spans, ctx.tokens.at(-1) ?? '')};
}

/** The summed log-prob of the tokens starting at or after `from`: the score of a response span. */
export function sumLogprobFrom(text: string, from: number): number {
  const {offsets, logprobs} = promptLogprobs(text);
  let sum = 0;
  offsets.forEach((o, i) => {
    if (o >= from) sum += logprobs[i] ?? 0;
  });
  return sum;
}
