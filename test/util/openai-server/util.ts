/**
 * Small pure helpers shared by the fake OpenAI server: canonical hashing, the toy tokenizer,
 * token estimates, id generation and OpenAI-shaped error bodies.
 *
 * Everything here is deterministic on purpose: tests compare hashes and replies across runs,
 * so nothing may depend on wall-clock time, key order or randomness.
 */
import {createHash} from 'node:crypto';

/**
 * JSON with object keys sorted recursively, so two bodies that differ only in key order hash
 * the same. `undefined` members are dropped, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of the canonical JSON of a value: the "body hash" used in the request log. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** 32-bit FNV-1a. Cheap enough to call once per token when scoring long prompts. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Toy tokenizer: a word (letters, digits, underscore) with its leading whitespace, a single
 * punctuation character with its leading whitespace, or trailing whitespace. The tokens
 * always concatenate back to the input, so `text_offset` values are exact character offsets,
 * like BPE tokens that carry their leading space (" world").
 */
export function tokenize(text: string): string[] {
  const re = /\s*[\p{L}\p{N}_]+|\s*[^\s\p{L}\p{N}_]|\s+/uy;
  const tokens: string[] = [];
  re.lastIndex = 0;
  while (re.lastIndex < text.length) {
    const m = re.exec(text);
    if (m === null) break; // unreachable: the three alternatives cover every character
    tokens.push(m[0]);
  }
  return tokens;
}

/** The "chars / 4" token estimate OpenAI documents as its rule of thumb. */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

/**
 * Id generator per server instance. Ids are unique and look like OpenAI's (`chatcmpl-…`,
 * `file-…`, `batch_…`, `req_…`) but are derived from a counter, so a test run is repeatable.
 */
export class IdGenerator {
  private counter = 0;
  constructor(private readonly salt: string) {}

  next(prefix: string): string {
    this.counter += 1;
    return prefix + sha256Hex(`${this.salt}:${prefix}:${this.counter}`).slice(0, 24);
  }
}

/** The JSON error envelope every OpenAI endpoint uses. */
export interface OpenAIErrorBody {
  error: {message: string; type: string | null; param: string | null; code: string | null};
}

export function errorBody(
  message: string,
  type: string | null,
  code: string | null = null,
  param: string | null = null,
): OpenAIErrorBody {
  return {error: {message, type, param, code}};
}

/** A status and JSON body, as produced by every handler before it is written to the socket. */
export interface JsonResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export function invalidRequest(message: string, param: string | null = null, code: string | null = null): JsonResult {
  return {status: 400, body: errorBody(message, 'invalid_request_error', code, param)};
}

export function notFound(message: string, param: string | null = null): JsonResult {
  return {status: 404, body: errorBody(message, 'invalid_request_error', null, param)};
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Masks a key the way OpenAI's 401 message does ("sk-te****test"). */
export function maskKey(key: string): string {
  if (key.length <= 8) return '*'.repeat(key.length);
  return `${key.slice(0, 5)}${'*'.repeat(Math.min(key.length - 9, 20))}${key.slice(-4)}`;
}
