/**
 * An OpenAI-compatible HTTP server for tests of the model-call layer.
 *
 * It is a real node:http server on 127.0.0.1 with an ephemeral port, so the real `openai`
 * client talks to it unchanged: retries, timeouts, header parsing and error classes are all
 * exercised for real. What it adds over a canned-response mock:
 *  - deterministic replies and log-probs (pluggable), so caching and scoring can be checked;
 *  - exact rate limiting with OpenAI's headers, and a record of the peak load it saw;
 *  - fault injection for every failure class a client must handle;
 *  - the Files and Batch APIs, run by the server through the same endpoint code;
 *  - accounting (per-route counts, a request log with body hashes, which keys were sent,
 *    and how often each distinct request was answered) so tests can assert "nothing was paid
 *    for twice" and "the limit was never exceeded".
 * API keys seen are kept in memory only and never printed.
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';

import type {OpenAIServer, OpenAIServerOptions, OpenAIServerStats, RequestLogEntry, RequestOutcome} from './api.js';
import {BatchService, type BatchBehaviour, type BatchEndpoint, type BatchJson, type BatchRequestFailure} from './batches.js';
import {handleChatCompletion, handleCompletion, requestTokenCost, type EndpointContext, type ModelResult} from './endpoints.js';
import {DEFAULT_SLOW_MS, FaultInjector, faultResponse, MODEL_ROUTES, type FaultKind, type FaultPredicate, type FaultRequest, type FaultSpec} from './faults.js';
import {FileStore, type RawResult} from './files.js';
import {SlidingWindowLimiter, type RateLimitConfig} from './limits.js';
import {matchRoute, readBody} from './routes.js';
import {defaultResponder, defaultScorer, type LogprobScorer, type Responder} from './responders.js';
import {canonicalHash, errorBody, IdGenerator, sha256Hex, type JsonResult} from './util.js';

class FakeOpenAIServer implements OpenAIServer {
  private readonly http: Server;
  private readonly now: () => number;
  private readonly ids = new IdGenerator('stage-openai-test-server');
  private readonly limiter: SlidingWindowLimiter;
  private readonly faultInjector = new FaultInjector();
  private readonly files: FileStore;
  private readonly batchService: BatchService;
  private responder: Responder;
  private scorer: LogprobScorer;
  private readonly models: string[];
  private readonly apiKeys: Set<string> | null;
  private readonly sleepers = new Set<{timer: NodeJS.Timeout; resolve: () => void}>();
  private closed = false;
  private seq = 0;

  private log: RequestLogEntry[] = [];
  private waiters: Array<{predicate: (entry: RequestLogEntry) => boolean; resolve: (entry: RequestLogEntry) => void}> = [];
  private hashes = new Map<string, number>();
  private auths: string[] = [];
  private counters = {totalRequests: 0, byRoute: {} as Record<string, number>, rateLimited: 0, faults: 0, completed: 0, batchLinesCompleted: 0, inFlight: 0, maxInFlight: 0};

  baseURL = '';
  origin = '';
  port = 0;

  constructor(options: OpenAIServerOptions) {
    this.now = options.now ?? Date.now;
    this.responder = options.responder ?? defaultResponder;
    this.scorer = options.scorer ?? defaultScorer;
    this.models = options.models ?? ['gpt-4o-mini', 'gpt-4o', 'test-model'];
    this.apiKeys = options.apiKeys ? new Set(options.apiKeys) : null;
    this.limiter = new SlidingWindowLimiter(options, this.now);
    this.faultInjector.enqueue(...(options.faults ?? []));
    const nowSeconds = () => Math.floor(this.now() / 1000);
    this.files = new FileStore(this.ids, nowSeconds);
    this.batchService = new BatchService(this.files, {
      ids: this.ids,
      nowSeconds,
      runLine: (endpoint, body) => this.runBatchLine(endpoint, body),
    });
    if (options.batch) this.batchService.setBehaviour(options.batch);
    this.http = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // Last resort: handle() already answers 500 on handler errors.
        if (!res.headersSent && !res.destroyed) res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
    // Keep-alive sockets must not outlive close(); closeAllConnections() handles that.
    this.http.keepAliveTimeout = 5_000;
  }

  async listen(host: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(0, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const address = this.http.address() as AddressInfo;
    this.port = address.port;
    this.origin = `http://${host}:${address.port}`;
    this.baseURL = `${this.origin}/v1`;
  }

  // ---- accounting views -------------------------------------------------------------------

  get stats(): OpenAIServerStats {
    return {
      ...this.counters,
      byRoute: {...this.counters.byRoute},
      maxAdmittedInWindow: this.limiter.maxAdmittedInWindow,
      maxArrivedInWindow: this.limiter.maxArrivedInWindow,
      maxTokensInWindow: this.limiter.maxTokensInWindow,
    };
  }

  get requests(): readonly RequestLogEntry[] {
    return this.log;
  }

  get completedHashes(): ReadonlyMap<string, number> {
    return this.hashes;
  }

  get authorizations(): readonly string[] {
    return this.auths;
  }

  get pendingFaults(): number {
    return this.faultInjector.pending;
  }

  count(route: string): number {
    return this.counters.byRoute[route] ?? 0;
  }

  duplicateCompletions(): string[] {
    return [...this.hashes].filter(([, n]) => n > 1).map(([h]) => h);
  }

  waitForRequest(predicate: (entry: RequestLogEntry) => boolean = () => true): Promise<RequestLogEntry> {
    const found = this.log.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({predicate, resolve}));
  }

  /** Wakes waiters whose predicate now holds for `entry`. */
  private notify(entry: RequestLogEntry): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.predicate(entry)) return true;
      w.resolve(entry);
      return false;
    });
  }

  // ---- run-time controls ------------------------------------------------------------------

  setResponder(responder?: Responder): void {
    this.responder = responder ?? defaultResponder;
  }

  setScorer(scorer?: LogprobScorer): void {
    this.scorer = scorer ?? defaultScorer;
  }

  setLimits(config: RateLimitConfig): void {
    this.limiter.configure(config);
  }

  injectFault(...faults: Array<FaultKind | FaultSpec>): void {
    this.faultInjector.enqueue(...faults);
  }

  setFaultPredicate(predicate?: FaultPredicate): void {
    this.faultInjector.setPredicate(predicate);
  }

  clearFaults(): void {
    this.faultInjector.clear();
  }

  setBatchBehaviour(behaviour: BatchBehaviour): void {
    this.batchService.setBehaviour(behaviour);
  }

  completeBatches(ids?: string[]): Promise<BatchJson[]> {
    return this.batchService.complete(ids);
  }

  failBatchRequests(customIds: Iterable<string>, failure?: BatchRequestFailure): void {
    this.batchService.failRequests(customIds, failure);
  }

  expireBatches(options: {ids?: string[]; completeFirst?: number} = {}): Promise<BatchJson[]> {
    return this.batchService.expire(options.ids, options.completeFirst ?? 0);
  }

  batches(): BatchJson[] {
    return this.batchService.all();
  }

  resetStats(): void {
    this.log = [];
    this.hashes = new Map();
    this.auths = [];
    const inFlight = this.counters.inFlight;
    this.counters = {totalRequests: 0, byRoute: {}, rateLimited: 0, faults: 0, completed: 0, batchLinesCompleted: 0, inFlight, maxInFlight: inFlight};
    this.limiter.reset();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.resolve();
    }
    this.sleepers.clear();
    const done = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
    await done;
  }

  // ---- request handling -------------------------------------------------------------------

  /** A timer that close() can cut short, so slow requests never keep a test process alive. */
  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleepers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.sleepers.add(entry);
    });
  }

  private endpointContext(source: 'sync' | 'batch', forceRefusal = false): EndpointContext {
    return {
      responder: this.responder,
      scorer: this.scorer,
      ids: this.ids,
      nowSeconds: () => Math.floor(this.now() / 1000),
      source,
      forceRefusal,
    };
  }

  private recordCompletion(body: unknown): void {
    const hash = canonicalHash(body);
    this.hashes.set(hash, (this.hashes.get(hash) ?? 0) + 1);
    this.counters.completed += 1;
  }

  private async runBatchLine(endpoint: BatchEndpoint, body: unknown): Promise<ModelResult> {
    const ctx = this.endpointContext('batch');
    let result: ModelResult;
    try {
      result = endpoint === '/v1/chat/completions' ? await handleChatCompletion(body, ctx) : await handleCompletion(body, ctx);
    } catch (err) {
      result = {status: 500, completed: false, body: errorBody(`Responder failed: ${String(err)}`, 'server_error')};
    }
    if (result.completed) {
      this.recordCompletion(body);
      this.counters.batchLinesCompleted += 1;
    }
    return result;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    const matched = matchRoute(method, url.pathname);
    const route = matched?.key ?? 'unmatched';
    const contentType = req.headers['content-type'];

    let body: unknown = null;
    let bodyHash: string | null = null;
    if (raw.length > 0) {
      bodyHash = sha256Hex(raw);
      if (contentType?.includes('application/json')) {
        try {
          body = JSON.parse(raw.toString('utf8'));
          bodyHash = canonicalHash(body);
        } catch {
          body = null;
        }
      }
    }
    const authorization = req.headers.authorization ?? null;
    if (authorization !== null) this.auths.push(authorization);

    const entry: RequestLogEntry = {
      seq: ++this.seq,
      method,
      path: url.pathname,
      route,
      body,
      bodyHash,
      authorization,
      receivedAt: this.now(),
      outcome: 'pending',
    };
    this.log.push(entry);
    this.counters.totalRequests += 1;
    this.counters.byRoute[route] = (this.counters.byRoute[route] ?? 0) + 1;
    this.counters.inFlight += 1;
    this.counters.maxInFlight = Math.max(this.counters.maxInFlight, this.counters.inFlight);
    res.on('close', () => {
      this.counters.inFlight -= 1;
      if (entry.outcome === 'pending') {
        entry.outcome = 'dropped';
        this.notify(entry);
      }
    });
    this.notify(entry);

    try {
      await this.dispatch(req, res, entry, {raw, url, id: matched?.id, contentType});
    } catch (err) {
      entry.error = err instanceof Error ? err.message : String(err);
      this.send(res, entry, {status: 500, body: errorBody(`Internal test-server error: ${entry.error}`, 'server_error')}, 'error');
    }
  }

  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    entry: RequestLogEntry,
    ctx: {raw: Buffer; url: URL; id: string | undefined; contentType: string | undefined},
  ): Promise<void> {
    const {route} = entry;
    if (route === 'unmatched') {
      this.send(res, entry, {status: 404, body: errorBody(`Invalid URL (${entry.method} ${entry.path})`, 'invalid_request_error')}, 'error');
      return;
    }
    if (route === 'GET /health') {
      this.send(res, entry, {status: 200, body: {status: 'ok'}}, 'ok');
      return;
    }

    if (this.apiKeys) {
      const key = (entry.authorization ?? '').replace(/^Bearer\s+/i, '');
      if (!this.apiKeys.has(key)) {
        const result = entry.authorization === null
          ? {status: 401, body: errorBody("You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", 'invalid_request_error')}
          : faultResponse('401', this.faultRequest(entry));
        if (result) this.send(res, entry, result, 'error');
        return;
      }
    }

    const isModelRoute = MODEL_ROUTES.includes(route);
    // Model calls always go through the limiter: with no limits set it admits everything but
    // still records the peak load per window, so tests can check a client's own throttling.
    if (isModelRoute) {
      const endpoint = route === 'POST /v1/chat/completions' ? 'chat' : 'completions';
      const decision = this.limiter.tryAdmit(requestTokenCost(endpoint, entry.body));
      if (!decision.ok) {
        this.counters.rateLimited += 1;
        entry.rateLimitKind = decision.kind;
        const model = typeof (entry.body as {model?: unknown} | null)?.model === 'string' ? (entry.body as {model: string}).model : 'unknown';
        const per = decision.kind === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
        const message = `Rate limit reached for ${model} in organization org-test on ${per}: Limit ${decision.limit}, Used ${decision.used}, Requested ${decision.requested}. Please try again in ${(decision.retryAfterMs / 1000).toFixed(3)}s. Visit https://platform.openai.com/account/rate-limits to learn more.`;
        this.send(
          res,
          entry,
          {status: 429, body: errorBody(message, decision.kind, 'rate_limit_exceeded'), headers: SlidingWindowLimiter.retryHeaders(decision.retryAfterMs)},
          'rate-limited',
        );
        return;
      }
    }

    const fault = this.faultInjector.take(this.faultRequest(entry));
    if (fault) {
      entry.fault = fault.kind;
      this.counters.faults += 1;
      await this.sleep(fault.delayMs ?? (fault.kind === 'slow' ? DEFAULT_SLOW_MS : 0));
      if (this.closed || res.destroyed) return;
      if (fault.kind === 'timeout') {
        this.notify(entry); // now visibly held: the client gives up, or close() ends it
        return;
      }
      if (fault.kind === 'reset') {
        entry.outcome = 'fault';
        req.socket.destroy();
        this.notify(entry);
        return;
      }
      const errorResult = faultResponse(fault.kind, this.faultRequest(entry));
      if (errorResult) {
        this.send(res, entry, errorResult, 'fault');
        return;
      }
    }

    const result = await this.route(entry, ctx, fault?.kind === 'refusal');
    if (this.closed || res.destroyed) return;
    if (fault?.kind === 'malformed') {
      this.sendMalformed(res, entry, result);
      return;
    }
    const ok = result.status < 400;
    if (ok && 'completed' in result && result.completed) this.recordCompletion(entry.body);
    // A 'slow' answer is a normal answer, just late; a refusal is recorded as the fault it is.
    this.send(res, entry, result, !ok ? 'error' : fault && fault.kind !== 'slow' ? 'fault' : 'ok');
  }

  private faultRequest(entry: RequestLogEntry): FaultRequest {
    return {
      seq: entry.seq,
      method: entry.method,
      path: entry.path,
      route: entry.route,
      body: entry.body,
      bodyHash: entry.bodyHash,
      authorization: entry.authorization,
    };
  }

  private async route(
    entry: RequestLogEntry,
    ctx: {raw: Buffer; url: URL; id: string | undefined; contentType: string | undefined},
    forceRefusal: boolean,
  ): Promise<JsonResult | ModelResult | RawResult> {
    const id = ctx.id ?? '';
    switch (entry.route) {
      case 'GET /v1/models':
        return {status: 200, body: {object: 'list', data: this.models.map((m) => this.modelObject(m))}};
      case 'GET /v1/models/:id':
        return this.models.includes(id)
          ? {status: 200, body: this.modelObject(id)}
          : {status: 404, body: errorBody(`The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found', 'model')};
      case 'POST /v1/chat/completions':
        return handleChatCompletion(entry.body, this.endpointContext('sync', forceRefusal));
      case 'POST /v1/completions':
        return handleCompletion(entry.body, this.endpointContext('sync', forceRefusal));
      case 'POST /v1/files':
        return this.files.upload(ctx.contentType, ctx.raw);
      case 'GET /v1/files':
        return this.files.list(ctx.url.searchParams.get('purpose'));
      case 'GET /v1/files/:id':
        return this.files.retrieve(id);
      case 'DELETE /v1/files/:id':
        return this.files.delete(id);
      case 'GET /v1/files/:id/content':
        return this.files.content(id);
      case 'POST /v1/batches':
        return this.batchService.create(entry.body);
      case 'GET /v1/batches':
        return this.batchService.list(ctx.url.searchParams);
      case 'GET /v1/batches/:id':
        return this.batchService.retrieve(id);
      case 'POST /v1/batches/:id/cancel':
        return this.batchService.cancel(id);
      default:
        return {status: 404, body: errorBody(`Invalid URL (${entry.method} ${entry.path})`, 'invalid_request_error')};
    }
  }

  private modelObject(id: string) {
    return {id, object: 'model', created: 1_700_000_000, owned_by: 'stage-test'};
  }

  private commonHeaders(entry: RequestLogEntry): Record<string, string> {
    const headers: Record<string, string> = {'x-request-id': this.ids.next('req_'), 'openai-version': '2020-10-01'};
    if (entry.path.startsWith('/v1/')) Object.assign(headers, this.limiter.headers());
    return headers;
  }

  private send(res: ServerResponse, entry: RequestLogEntry, result: JsonResult | RawResult, outcome: RequestOutcome): void {
    if (res.headersSent || res.destroyed) return;
    const isRaw = 'raw' in result;
    const payload = isRaw ? result.raw : Buffer.from(JSON.stringify(result.body), 'utf8');
    res.writeHead(result.status, {
      ...this.commonHeaders(entry),
      ...(isRaw ? {} : result.headers),
      'content-type': isRaw ? result.contentType : 'application/json',
      'content-length': String(payload.length),
    });
    res.end(payload);
    entry.status = result.status;
    entry.outcome = outcome;
    this.notify(entry);
  }

  /** 200 with a JSON content type and a body cut in half: the client's JSON parse must fail. */
  private sendMalformed(res: ServerResponse, entry: RequestLogEntry, result: JsonResult | RawResult): void {
    const full = 'raw' in result ? result.raw.toString('utf8') : JSON.stringify(result.body);
    const payload = Buffer.from(full.slice(0, Math.max(1, Math.floor(full.length / 2))), 'utf8');
    res.writeHead(200, {...this.commonHeaders(entry), 'content-type': 'application/json', 'content-length': String(payload.length)});
    res.end(payload);
    entry.status = 200;
    entry.outcome = 'fault';
    this.notify(entry);
  }
}

/** Starts a server on 127.0.0.1 with an OS-chosen port. Always close() it (e.g. in afterEach). */
export async function startOpenAIServer(options: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  const server = new FakeOpenAIServer(options);
  await server.listen(options.host ?? '127.0.0.1');
  return server;
}
