/**
 * The model world's HTTP server: OpenAI's protocol on loopback, so the pipeline reaches the
 * world through the same `openai` client, prompts and rules as it reaches GPT-4 or vLLM. One
 * server serves one questioner policy, as one vLLM server serves one checkpoint.
 */
import {createHash} from 'node:crypto';
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {loadPolicy} from './files.js';
import {formatPolicy, M0, type Policy} from './policy.js';
import {chatCompletion, modelList, textCompletion, type ApiError, type Served} from './protocol.js';
import type {Result} from '../util/result.js';

export interface WorldServerOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  /** The questioner's policy, or `m0`, a policy file or a checkpoint directory; m0 if absent. */
  readonly policy?: Policy | string;
}

export interface WorldServer {
  /** What an `openai` client takes as `baseURL`: `http://127.0.0.1:PORT/v1`. */
  readonly baseURL: string;
  readonly port: number;
  /** Identifies the policy being served; reported as `system_fingerprint`. */
  readonly fingerprint: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(data)});
  res.end(data);
}

function sendError(res: ServerResponse, e: ApiError): void {
  send(res, e.status, {error: {message: e.message, type: e.type, param: e.param, code: e.code}});
}

function readJson(req: IncomingMessage): Promise<Result<Record<string, unknown>, ApiError>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const fail = (message: string): void => resolve({ok: false, error: {status: 400, message, type: 'invalid_request_error', param: null, code: null}});
      if (size > MAX_BODY) return fail('request body too large');
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail('the request body must be a JSON object');
        resolve({ok: true, value: body as Record<string, unknown>});
      } catch {
        fail('the request body is not valid JSON');
      }
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, policy: Policy, fingerprint: string): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
  const served = (): Served => ({policy, fingerprint, now: Date.now()});
  if (req.method === 'GET' && path === '/health') return send(res, 200, {status: 'ok', world: fingerprint});
  if (req.method === 'GET' && path === '/v1/models') return send(res, 200, modelList(Date.now()));
  if (req.method === 'POST' && (path === '/v1/chat/completions' || path === '/v1/completions')) {
    const body = await readJson(req);
    if (!body.ok) return sendError(res, body.error);
    const r = path === '/v1/completions' ? textCompletion(body.value, served()) : chatCompletion(body.value, served());
    return r.ok ? send(res, 200, r.value) : sendError(res, r.error);
  }
  sendError(res, {status: 404, message: `no route ${req.method ?? ''} ${path} (the model world serves /health, /v1/models, /v1/chat/completions and /v1/completions)`, type: 'invalid_request_error', param: null, code: 'not_found'});
}

/** Starts the world on loopback; resolves once it is listening. */
export async function startWorldServer(options: WorldServerOptions = {}): Promise<WorldServer> {
  let policy: Policy = M0;
  if (typeof options.policy === 'string') {
    const loaded = loadPolicy(options.policy);
    if (!loaded.ok) throw new Error(loaded.error);
    policy = loaded.value.policy;
  } else if (options.policy) policy = options.policy;
  const fingerprint = `world-${createHash('sha256').update(formatPolicy(policy)).digest('hex').slice(0, 12)}`;
  const server = createServer((req, res) => {
    handle(req, res, policy, fingerprint).catch((e: unknown) => {
      if (!res.headersSent) sendError(res, {status: 500, message: `internal error in the model world: ${e instanceof Error ? e.message : String(e)}`, type: 'server_error', param: null, code: null});
      else res.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    baseURL: `http://${host}:${port}/v1`, port, fingerprint,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
