/**
 * URL routing and body reading for the test server. Routes are keyed as 'METHOD /path/:id'
 * strings; the same keys appear in the request log, the per-route counters and a fault's
 * `routes` filter, so a test names an endpoint the same way everywhere.
 */
import type {IncomingMessage} from 'node:http';

interface Route {
  method: string;
  key: string;
  pattern: RegExp;
}

export const ROUTE_KEYS = [
  'GET /health',
  'GET /v1/models',
  'GET /v1/models/:id',
  'POST /v1/chat/completions',
  'POST /v1/completions',
  'POST /v1/files',
  'GET /v1/files',
  'GET /v1/files/:id',
  'DELETE /v1/files/:id',
  'GET /v1/files/:id/content',
  'POST /v1/batches',
  'GET /v1/batches',
  'GET /v1/batches/:id',
  'POST /v1/batches/:id/cancel',
];

const ROUTES: Route[] = ROUTE_KEYS.map((key) => {
  const [method = '', path = ''] = key.split(' ');
  return {method, key, pattern: new RegExp(`^${path.replace(/:id/g, '([^/]+)')}/?$`)};
});

export function matchRoute(method: string, path: string): {key: string; id: string | undefined} | null {
  for (const r of ROUTES) {
    if (r.method !== method) continue;
    const m = r.pattern.exec(path);
    if (m) return {key: r.key, id: m[1] === undefined ? undefined : decodeURIComponent(m[1])};
  }
  return null;
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
