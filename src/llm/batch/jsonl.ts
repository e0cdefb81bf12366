import {classifyAnswer, classifyError} from '../classify.js';
import type {ChatResponse, ItemFailureReason} from '../types.js';

/**
 * The pure half of the Batch executor: request lines, splitting them into files within the
 * Batch API's limits, and reading output and error files back into one decision per call.
 */

/** What one batch input file may hold (OpenAI: 50,000 requests, 200 MB). */
export interface BatchLimits {
  readonly maxRequests: number;
  readonly maxBytes: number;
}

export const BATCH_LIMITS: BatchLimits = {maxRequests: 50_000, maxBytes: 200 * 1024 * 1024};

export const BATCH_ENDPOINT = '/v1/chat/completions';

/** One input line, newline included. `customId` is the call's memo key. */
export function requestLine(customId: string, body: Record<string, unknown>): string {
  return `${JSON.stringify({custom_id: customId, method: 'POST', url: BATCH_ENDPOINT, body})}\n`;
}

/**
 * Cuts lines (given by their byte sizes) into consecutive files of at most `maxRequests` lines
 * and `maxBytes` bytes. Returns `[start, end)` index ranges. A single line above `maxBytes`
 * cannot go in any file: that is an error, not a silent drop.
 */
export function splitIntoFiles(sizes: readonly number[], limits: BatchLimits = BATCH_LIMITS): [number, number][] {
  const files: [number, number][] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!;
    if (size > limits.maxBytes) throw new Error(`request ${i} is ${size} bytes, more than a batch file may hold (${limits.maxBytes})`);
    if (i > start && (i - start >= limits.maxRequests || bytes + size > limits.maxBytes)) {
      files.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (sizes.length > start) files.push([start, sizes.length]);
  return files;
}

/** What becomes of one call after its batch ended. */
export type LineDecision =
  /** Answered: journal it, like a real-time answer. */
  | {readonly kind: 'answer'; readonly response: ChatResponse}
  /** Final for the item (content filter, refusal, context too long, rejected): no retry. */
  | {readonly kind: 'final'; readonly reason: ItemFailureReason; readonly message: string}
  /** Not answered for a reason another try may fix (server error, expiry, cancel): ask in real time. */
  | {readonly kind: 'fallback'; readonly why: string};

interface OutputLine {
  readonly custom_id?: unknown;
  readonly response?: {readonly status_code?: unknown; readonly body?: unknown} | null;
  readonly error?: {readonly code?: unknown; readonly message?: unknown} | null;
}

/** Decides one output- or error-file line; `undefined` for a line that is not a result at all. */
export function decideLine(text: string): {customId: string; decision: LineDecision} | undefined {
  let line: OutputLine;
  try {
    line = JSON.parse(text) as OutputLine;
  } catch {
    return undefined;
  }
  if (typeof line !== 'object' || line === null || typeof line.custom_id !== 'string') return undefined;
  return {customId: line.custom_id, decision: decide(line)};
}

function decide(line: OutputLine): LineDecision {
  const r = line.response;
  const status = typeof r?.status_code === 'number' ? r.status_code : undefined;
  if (status === 200) {
    const body = r?.body as Partial<ChatResponse> | undefined;
    const verdict = classifyAnswer(body?.choices);
    if (!verdict) return {kind: 'answer', response: body as ChatResponse};
    if (verdict.kind === 'item') return {kind: 'final', reason: verdict.reason, message: verdict.message};
    return {kind: 'fallback', why: verdict.kind === 'retry' ? verdict.why : verdict.message};
  }
  if (status !== undefined) {
    const e = (r?.body as {error?: {code?: string | null; message?: string}} | undefined)?.error;
    const verdict = classifyError({status, code: e?.code ?? null, message: e?.message ?? `HTTP ${status}`});
    if (verdict.kind === 'item') return {kind: 'final', reason: verdict.reason, message: verdict.message};
    // Retryable, or fatal in a way the real-time call will report with its own message.
    return {kind: 'fallback', why: verdict.kind === 'retry' ? verdict.why : verdict.message};
  }
  const code = typeof line.error?.code === 'string' ? line.error.code : 'no response';
  return {kind: 'fallback', why: code};
}

/**
 * Joins a batch's output and error files with the calls it covered: one decision per custom_id.
 * An answer wins over an error line for the same call; a call in neither file falls back.
 */
export function joinResults(customIds: readonly string[], files: readonly string[]): Map<string, LineDecision> {
  const covered = new Set(customIds);
  const decided = new Map<string, LineDecision>();
  for (const file of files) {
    for (const text of file.split('\n')) {
      if (text.trim() === '') continue;
      const d = decideLine(text);
      if (!d || !covered.has(d.customId)) continue;
      if (decided.get(d.customId)?.kind === 'answer') continue;
      decided.set(d.customId, d.decision);
    }
  }
  for (const id of customIds) if (!decided.has(id)) decided.set(id, {kind: 'fallback', why: 'missing from the batch output'});
  return decided;
}

/** Batch statuses after which nothing more will happen to a batch. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'expired', 'cancelled']);

/** How long to wait before poll number `attempt` (0-based): grows by half each time, capped. */
export function pollDelayMs(attempt: number, settings: {readonly pollMs?: number; readonly maxPollMs?: number} = {}): number {
  const first = settings.pollMs ?? 30_000;
  const cap = settings.maxPollMs ?? first * 10;
  return Math.round(Math.min(cap, first * 1.5 ** attempt));
}
