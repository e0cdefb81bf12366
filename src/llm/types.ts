/**
 * The vocabulary of model calls shared by the DSL, the caller, the memo and the Batch executor.
 */

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

/** Sampling parameters; all part of a call's identity. */
export interface SamplingParams {
  readonly temperature?: number;
  readonly top_p?: number;
  readonly max_tokens?: number;
  readonly n?: number;
  readonly seed?: number;
  readonly stop?: readonly string[];
  readonly logprobs?: boolean;
  readonly top_logprobs?: number;
}

/** Who serves a model role. Placement (URL, deployment, key) is per user and never in a key. */
export type Provider = 'openai' | 'azure' | 'openai-compatible';

/** A model role as the Stagefile declares it: the identity that enters keys. */
export interface ModelDecl {
  readonly role: string;
  readonly provider: Provider;
  /** The dated snapshot (`gpt-4-0613`) or served model name; part of every call's identity. */
  readonly model: string;
  /** A default base URL for `openai-compatible` endpoints; the user's config can override it. */
  readonly baseURL?: string;
}

/** One call a rule asks for. `id` names the item (`t12-p3`) in progress, failures and memo. */
export interface CallSpec {
  readonly id: string;
  readonly role: string;
  readonly messages: readonly ChatMessage[];
  readonly params?: SamplingParams;
}

/** Why an item has no answer, when that is final for the item (not for the build). */
export type ItemFailureReason = 'content-filter' | 'refusal' | 'context-length' | 'rejected' | 'budget' | 'gave-up';

export type CallResult =
  | {readonly id: string; readonly ok: true; readonly content: string; readonly choices: readonly string[]; readonly response: ChatResponse; readonly memoized: boolean}
  | {readonly id: string; readonly ok: false; readonly reason: ItemFailureReason; readonly message: string};

/** The parts of a chat completion response the engine keeps. */
export interface ChatResponse {
  readonly model: string;
  readonly choices: readonly {readonly index: number; readonly message: {readonly content: string | null; readonly refusal?: string | null}; readonly finish_reason: string | null; readonly logprobs?: unknown}[];
  readonly usage: Usage;
}

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
}

/** What a plan assumes for an API target whose inputs do not exist yet. */
export interface CallEstimate {
  readonly calls: number;
  /** Prompt tokens per call, on average. */
  readonly promptTokens: number;
  /** Completion tokens per call, on average (defaults to max_tokens). */
  readonly completionTokens: number;
  readonly role: string;
}
