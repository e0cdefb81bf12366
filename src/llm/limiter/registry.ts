import {resolve} from 'node:path';
import {EndpointLimiter} from './limiter.js';
import {defaultLimitsDir, policyFor, type LimiterOptions} from './options.js';

const limiters = new Map<string, {limiter: EndpointLimiter; settings: string}>();

/**
 * The one limiter of an endpoint in this process. Sharing it keeps the process's calls in one
 * queue (first come, first served) and lets one state update serve many calls; separate
 * instances would still be correct, since they meet in the same state file, only slower.
 * Asking again with different limits is a programming error and throws: one endpoint has one
 * set of limits.
 */
export function limiterFor(options: LimiterOptions): EndpointLimiter {
  const dir = resolve(options.dir ?? defaultLimitsDir());
  const key = `${dir}\0${options.id}`;
  const settings = JSON.stringify([policyFor(options), options.refundUnused ?? false, options.lock ?? null]);
  const known = limiters.get(key);
  if (known) {
    if (known.settings !== settings) throw new Error(`Internal error: the limiter for ${options.id} already exists with other settings`);
    return known.limiter;
  }
  const limiter = new EndpointLimiter({...options, dir});
  limiters.set(key, {limiter, settings});
  return limiter;
}
