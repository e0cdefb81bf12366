import OpenAI from 'openai';

/**
 * A client for a model served next to the rule (vLLM, or the embedded world, started by the
 * job's server preamble). Its base URL arrives in `STAGE_URL_<ROLE>`; nothing here is cached
 * per call, because GPU rules make hundreds of thousands of cheap local calls.
 */
export function servedModel(role: string): OpenAI {
  const variable = `STAGE_URL_${role.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  // A job may start one server per role, or one server for all of them (the embedded world).
  const baseURL = process.env[variable] ?? process.env['STAGE_MODEL_URL'];
  if (!baseURL) throw new Error(`this rule talks to the ${role} model, but neither ${variable} nor STAGE_MODEL_URL is set: give the target a server that exports it`);
  return new OpenAI({baseURL, apiKey: process.env['STAGE_SERVED_API_KEY'] ?? 'unused', maxRetries: 5, timeout: 600_000});
}

/** Runs `fn` over `items` with at most `limit` at once, keeping the results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>, signal?: AbortSignal): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      if (signal?.aborted) throw new Error('interrupted');
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker));
  return out;
}

/** The part of `items` a shard handles: every `count`-th item from `index`. */
export function shardOf<T>(items: readonly T[], shard: {index: number; count: number} | undefined): T[] {
  return shard ? items.filter((_, i) => i % shard.count === shard.index) : [...items];
}
