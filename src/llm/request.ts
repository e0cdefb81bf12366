import {canonicalJson} from '../fingerprint/canonical.js';
import {hashText} from '../fingerprint/hasher.js';
import type {CallSpec, ModelDecl} from './types.js';

/** Bumped when what identifies a call changes; old memo entries then no longer match. */
export const MEMO_SCHEMA = 1;

/** A call's identity: the hash of its canonical rendered request. */
export type CallKey = string & {readonly __brand: 'CallKey'};

export interface RenderedCall {
  readonly key: CallKey;
  /** The request body as sent to `/v1/chat/completions`. */
  readonly body: Record<string, unknown>;
}

/**
 * Renders a call into the request body and its key. The key covers the model snapshot, every
 * message and every sampling parameter, and nothing about where or by whom the call is made
 * (URL, deployment, key, rate limits), so the same call is the same memo entry for every user.
 */
export function renderCall(model: ModelDecl, spec: CallSpec): RenderedCall {
  const body: Record<string, unknown> = {model: model.model, messages: spec.messages.map((m) => ({role: m.role, content: m.content})), ...spec.params};
  const key = `xxh64:${hashText(canonicalJson({v: MEMO_SCHEMA, endpoint: 'chat', body}))}` as CallKey;
  return {key, body};
}
