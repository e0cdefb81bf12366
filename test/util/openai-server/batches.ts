/**
 * The Batch API: create a batch over an uploaded JSONL file, poll it, cancel it; results go to
 * output and error files in the file store.
 *
 * The server runs the batch itself, line by line, through the same endpoint code as the
 * synchronous API. What tests need to control is *when* that happens and *what goes wrong*:
 *  - `hold`: batches stay `in_progress` until the test calls `completeBatches()`;
 *  - `completeAfterPolls: N`: the first N retrieves see `in_progress`, the next one completes;
 *  - per-custom_id failures, written to the error file the way OpenAI writes them;
 *  - expiry, optionally after part of the batch has run (OpenAI returns and bills those);
 *  - cancellation (`cancelling`, then `cancelled` on the next retrieve).
 * Output lines are shuffled deterministically because OpenAI does not keep input order and
 * client code must join on custom_id.
 */
import type {ModelResult} from './endpoints.js';
import type {FileStore} from './files.js';
import {errorBody, invalidRequest, isRecord, notFound, sha256Hex, type IdGenerator, type JsonResult} from './util.js';

export type BatchEndpoint = '/v1/chat/completions' | '/v1/completions';
export const BATCH_ENDPOINTS: readonly BatchEndpoint[] = ['/v1/chat/completions', '/v1/completions'];

const MAX_BATCH_REQUESTS = 50_000;

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

export interface BatchJson {
  id: string;
  object: 'batch';
  endpoint: string;
  errors: {object: 'list'; data: Array<{code: string; message: string; param: string | null; line: number | null}>} | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: {total: number; completed: number; failed: number};
  metadata: Record<string, string> | null;
  model: string | null;
  usage: {
    input_tokens: number;
    input_tokens_details: {cached_tokens: number};
    output_tokens: number;
    output_tokens_details: {reasoning_tokens: number};
    total_tokens: number;
  };
}

export interface BatchBehaviour {
  /** Keep batches `in_progress` (whatever the polls) until completeBatches() is called. */
  hold?: boolean;
  /** How many retrieves still see `in_progress` before the batch completes; default 0. */
  completeAfterPolls?: number;
  /** Shuffle output lines deterministically instead of keeping input order; default true. */
  shuffleOutput?: boolean;
}

/**
 * How a chosen request fails. With a numeric `statusCode` (default 500) the error-file line
 * carries an HTTP error response, as OpenAI does for requests that got an error status; with
 * `statusCode: null` it carries `response: null` and a top-level `error`, as for failures
 * that never reached the model.
 */
export interface BatchRequestFailure {
  statusCode?: number | null;
  code?: string;
  message?: string;
}

/** One line of an output or error file. */
export interface BatchOutputLine {
  id: string;
  custom_id: string;
  response: {status_code: number; request_id: string; body: unknown} | null;
  error: {code: string; message: string} | null;
}

/** What the batch service needs from the server. */
export interface BatchEnv {
  ids: IdGenerator;
  nowSeconds: () => number;
  /** Runs one input line through the model endpoint (the server does the accounting). */
  runLine: (endpoint: BatchEndpoint, body: unknown, customId: string) => Promise<ModelResult>;
}

interface BatchLine {
  customId: string;
  body: Record<string, unknown>;
}

interface BatchRecord {
  json: BatchJson;
  lines: BatchLine[];
  polls: number;
  processing: Promise<void> | null;
}

const TERMINAL: BatchStatus[] = ['failed', 'completed', 'expired', 'cancelled'];

export class BatchService {
  private readonly batches = new Map<string, BatchRecord>();
  private behaviour: Required<BatchBehaviour> = {hold: false, completeAfterPolls: 0, shuffleOutput: true};
  private readonly failures = new Map<string, BatchRequestFailure>();

  constructor(private readonly files: FileStore, private readonly env: BatchEnv) {}

  setBehaviour(behaviour: BatchBehaviour): void {
    this.behaviour = {...this.behaviour, ...behaviour};
  }

  /** Makes requests with these custom_ids fail (in every later-processed batch). */
  failRequests(customIds: Iterable<string>, failure: BatchRequestFailure = {}): void {
    for (const id of customIds) this.failures.set(id, failure);
  }

  clearFailures(): void {
    this.failures.clear();
  }

  /** Snapshot of a batch as the API would return it (a copy, so later changes don't leak). */
  get(id: string): BatchJson | undefined {
    const r = this.batches.get(id);
    return r ? structuredClone(r.json) : undefined;
  }

  all(): BatchJson[] {
    return [...this.batches.values()].map((r) => structuredClone(r.json));
  }

  create(body: unknown): JsonResult {
    if (!isRecord(body)) return invalidRequest('We could not parse the JSON body of your request.');
    const {input_file_id: inputFileId, endpoint, completion_window: window, metadata} = body;
    if (typeof inputFileId !== 'string') return invalidRequest("Missing required parameter: 'input_file_id'.", 'input_file_id', 'missing_required_parameter');
    if (typeof endpoint !== 'string' || !BATCH_ENDPOINTS.includes(endpoint as BatchEndpoint)) {
      return invalidRequest(`Invalid 'endpoint': this test server runs batches for ${BATCH_ENDPOINTS.join(', ')}.`, 'endpoint', 'invalid_value');
    }
    if (window !== '24h') return invalidRequest("Invalid 'completion_window': only '24h' is supported.", 'completion_window', 'invalid_value');
    if (metadata !== undefined && metadata !== null && !isRecord(metadata)) return invalidRequest("Invalid 'metadata'.", 'metadata', 'invalid_type');
    const file = this.files.get(inputFileId);
    if (!file) return notFound(`No such File object: ${inputFileId}`, 'input_file_id');
    if (file.meta.purpose !== 'batch') {
      return invalidRequest(`File ${inputFileId} has purpose '${file.meta.purpose}'; batches need purpose 'batch'.`, 'input_file_id', 'invalid_value');
    }

    const created = this.env.nowSeconds();
    const parsed = parseBatchInput(file.content.toString('utf8'), endpoint);
    const json: BatchJson = {
      id: this.env.ids.next('batch_'),
      object: 'batch',
      endpoint,
      errors: null,
      input_file_id: inputFileId,
      completion_window: '24h',
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: created,
      in_progress_at: null,
      expires_at: created + 24 * 3600,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: {total: 0, completed: 0, failed: 0},
      metadata: (metadata as Record<string, string> | undefined) ?? null,
      model: parsed.model,
      usage: emptyUsage(),
    };
    const response = structuredClone(json); // the create call itself answers 'validating'
    if (parsed.errors.length > 0) {
      json.status = 'failed';
      json.failed_at = created;
      json.errors = {object: 'list', data: parsed.errors};
    } else {
      json.status = 'in_progress';
      json.in_progress_at = created;
      json.request_counts.total = parsed.lines.length;
    }
    this.batches.set(json.id, {json, lines: parsed.lines, polls: 0, processing: null});
    return {status: 200, body: response};
  }

  /** GET /v1/batches/:id — each call is a "poll" and may move the batch along. */
  async retrieve(id: string): Promise<JsonResult> {
    const r = this.batches.get(id);
    if (!r) return notFound(`No batch found with id '${id}'.`, 'batch_id');
    if (r.json.status === 'cancelling') {
      r.json.status = 'cancelled';
      r.json.cancelled_at = this.env.nowSeconds();
    } else if (r.json.status === 'in_progress' && !this.behaviour.hold) {
      r.polls += 1;
      if (r.polls > this.behaviour.completeAfterPolls) await this.run(r, r.lines.length);
    }
    return {status: 200, body: structuredClone(r.json)};
  }

  cancel(id: string): JsonResult {
    const r = this.batches.get(id);
    if (!r) return notFound(`No batch found with id '${id}'.`, 'batch_id');
    if (r.json.status !== 'in_progress' && r.json.status !== 'validating') {
      return {status: 409, body: errorBody(`Cannot cancel a batch with status '${r.json.status}'.`, 'invalid_request_error', 'batch_not_cancellable')};
    }
    r.json.status = 'cancelling';
    r.json.cancelling_at = this.env.nowSeconds();
    return {status: 200, body: structuredClone(r.json)};
  }

  list(query: URLSearchParams): JsonResult {
    const all = [...this.batches.values()].map((r) => r.json).reverse(); // newest first
    const after = query.get('after');
    const limit = Math.min(100, Math.max(1, Number(query.get('limit') ?? 20) || 20));
    const start = after ? all.findIndex((b) => b.id === after) + 1 : 0;
    const data = all.slice(start, start + limit).map((b) => structuredClone(b));
    return {
      status: 200,
      body: {object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: start + limit < all.length},
    };
  }

  /** Completes the given (default: all) in-progress batches now, ignoring `hold`. */
  async complete(ids?: string[]): Promise<BatchJson[]> {
    const targets = this.select(ids);
    for (const r of targets) await this.run(r, r.lines.length);
    return targets.map((r) => structuredClone(r.json));
  }

  /**
   * Expires the given (default: all) in-progress batches. The first `completeFirst` requests
   * of each are run normally; the rest go to the error file as `batch_expired`.
   */
  async expire(ids?: string[], completeFirst = 0): Promise<BatchJson[]> {
    const targets = this.select(ids);
    for (const r of targets) await this.run(r, completeFirst, 'expired');
    return targets.map((r) => structuredClone(r.json));
  }

  private select(ids: string[] | undefined): BatchRecord[] {
    const pool = ids ? ids.map((id) => this.batches.get(id)).filter((r): r is BatchRecord => r !== undefined) : [...this.batches.values()];
    return pool.filter((r) => r.json.status === 'in_progress');
  }

  /** Runs the first `count` lines and finalizes; the rest (if any) are written as expired. */
  private run(r: BatchRecord, count: number, end: 'completed' | 'expired' = 'completed'): Promise<void> {
    r.processing ??= this.process(r, count, end).finally(() => {
      r.processing = null;
    });
    return r.processing;
  }

  private async process(r: BatchRecord, count: number, end: 'completed' | 'expired'): Promise<void> {
    if (r.json.status !== 'in_progress') return;
    const outputs: BatchOutputLine[] = [];
    const errors: BatchOutputLine[] = [];
    const usage = emptyUsage();
    const endpoint = r.json.endpoint as BatchEndpoint;

    for (const [i, line] of r.lines.entries()) {
      const id = this.env.ids.next('batch_req_');
      if (i >= count) {
        errors.push({
          id,
          custom_id: line.customId,
          response: null,
          error: {code: 'batch_expired', message: 'This request could not be executed before the completion window expired.'},
        });
        continue;
      }
      const failure = this.failures.get(line.customId);
      if (failure) {
        errors.push(failureLine(id, line.customId, failure, this.env.ids.next('req_')));
        continue;
      }
      const result = await this.env.runLine(endpoint, line.body, line.customId);
      const out: BatchOutputLine = {
        id,
        custom_id: line.customId,
        response: {status_code: result.status, request_id: this.env.ids.next('req_'), body: result.body},
        error: null,
      };
      if (result.completed) {
        outputs.push(out);
        if (result.usage) {
          usage.input_tokens += result.usage.prompt_tokens;
          usage.output_tokens += result.usage.completion_tokens;
          usage.total_tokens += result.usage.total_tokens;
        }
      } else {
        errors.push(out);
      }
    }

    const now = this.env.nowSeconds();
    const json = r.json;
    json.finalizing_at = now;
    json.request_counts = {total: r.lines.length, completed: outputs.length, failed: errors.length};
    json.usage = usage;
    const order = (lines: BatchOutputLine[]) =>
      this.behaviour.shuffleOutput ? [...lines].sort((a, b) => (sha256Hex(a.custom_id) < sha256Hex(b.custom_id) ? -1 : 1)) : lines;
    if (outputs.length > 0) json.output_file_id = this.files.add(`${json.id}_output.jsonl`, 'batch_output', toJsonl(order(outputs))).id;
    if (errors.length > 0) json.error_file_id = this.files.add(`${json.id}_error.jsonl`, 'batch_output', toJsonl(order(errors))).id;
    if (end === 'expired') {
      json.status = 'expired';
      json.expired_at = now;
    } else {
      json.status = 'completed';
      json.completed_at = now;
    }
  }

  /** True when every batch is in a terminal state (useful as a test's wait condition). */
  get allSettled(): boolean {
    return [...this.batches.values()].every((r) => TERMINAL.includes(r.json.status));
  }
}

function emptyUsage(): BatchJson['usage'] {
  return {input_tokens: 0, input_tokens_details: {cached_tokens: 0}, output_tokens: 0, output_tokens_details: {reasoning_tokens: 0}, total_tokens: 0};
}

function toJsonl(lines: BatchOutputLine[]): Buffer {
  return Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(''), 'utf8');
}

function failureLine(id: string, customId: string, failure: BatchRequestFailure, requestId: string): BatchOutputLine {
  const statusCode = failure.statusCode === undefined ? 500 : failure.statusCode;
  if (statusCode === null) {
    return {id, custom_id: customId, response: null, error: {code: failure.code ?? 'server_error', message: failure.message ?? 'The request failed.'}};
  }
  const message = failure.message ?? 'The server had an error while processing your request. Sorry about that!';
  const type = statusCode >= 500 ? 'server_error' : 'invalid_request_error';
  return {
    id,
    custom_id: customId,
    response: {status_code: statusCode, request_id: requestId, body: errorBody(message, type, failure.code ?? null)},
    error: null,
  };
}

type BatchValidationError = {code: string; message: string; param: string | null; line: number | null};

/** Validates a batch input file the way the `validating` phase does. */
function parseBatchInput(text: string, endpoint: string): {lines: BatchLine[]; errors: BatchValidationError[]; model: string | null} {
  const lines: BatchLine[] = [];
  const errors: BatchValidationError[] = [];
  const seen = new Set<string>();
  let model: string | null = null;
  const add = (code: string, message: string, line: number | null, param: string | null = null) => {
    if (errors.length < 100) errors.push({code, message, param, line});
  };
  text.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    if (raw.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      add('invalid_json_line', `Line ${lineNo} is not valid JSON.`, lineNo);
      return;
    }
    if (!isRecord(parsed) || typeof parsed.custom_id !== 'string' || !isRecord(parsed.body)) {
      add('invalid_request', `Line ${lineNo} needs a string 'custom_id' and an object 'body'.`, lineNo);
      return;
    }
    if (parsed.method !== 'POST') add('invalid_method', `Line ${lineNo}: 'method' must be 'POST'.`, lineNo, 'method');
    if (parsed.url !== endpoint) add('mismatched_endpoint', `Line ${lineNo}: url '${String(parsed.url)}' does not match the batch endpoint '${endpoint}'.`, lineNo, 'url');
    if (seen.has(parsed.custom_id)) add('duplicate_custom_id', `Line ${lineNo}: custom_id '${parsed.custom_id}' is not unique.`, lineNo, 'custom_id');
    seen.add(parsed.custom_id);
    const lineModel = typeof parsed.body.model === 'string' ? parsed.body.model : null;
    if (model === null) model = lineModel;
    else if (lineModel !== model) add('mismatched_model', `Line ${lineNo}: all requests in a batch must use the same model (expected '${model}').`, lineNo, 'body.model');
    lines.push({customId: parsed.custom_id, body: parsed.body});
  });
  if (lines.length === 0 && errors.length === 0) add('empty_file', 'The input file contains no requests.', null);
  if (lines.length > MAX_BATCH_REQUESTS) add('too_many_requests', `A batch may contain at most ${MAX_BATCH_REQUESTS} requests.`, null);
  return {lines, errors, model};
}
