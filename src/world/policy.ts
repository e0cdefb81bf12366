/**
 * The questioner's "checkpoint": per domain, one logit per attribute. The questioner samples
 * the attribute of its next question from a softmax over the logits of the attributes not yet
 * covered. m0 has no weights at all (every logit 0), so it asks about anything with equal odds;
 * training raises the logits of what the kept conversations asked about.
 */
import {ATTRIBUTES, isAttribute, type Attribute} from './attributes.js';
import {DOMAINS, type Domain} from './tasks.js';
import {err, ok, type Result} from '../util/result.js';

export const POLICY_KIND = 'stage-world-policy';
export const POLICY_VERSION = 1;

export type Weights = Readonly<Partial<Record<Domain, Readonly<Partial<Record<Attribute, number>>>>>>;

export interface Policy {
  readonly weights: Weights;
}

/** The base questioner: no preferences. */
export const M0: Policy = {weights: {}};

/** The logit of every attribute for a domain (0 where the policy says nothing). */
export function logitsFor(policy: Policy, domain: Domain | undefined): Record<Attribute, number> {
  const row = domain === undefined ? undefined : policy.weights[domain];
  return Object.fromEntries(ATTRIBUTES.map((a) => [a, row?.[a] ?? 0])) as Record<Attribute, number>;
}

/** The policy file's text: sorted, one stable layout, so equal policies are equal bytes. */
export function formatPolicy(policy: Policy): string {
  const weights: Record<string, Record<string, number>> = {};
  for (const d of DOMAINS) {
    const row = policy.weights[d];
    if (!row) continue;
    weights[d] = Object.fromEntries(ATTRIBUTES.filter((a) => row[a] !== undefined).map((a) => [a, row[a]!]));
  }
  return `${JSON.stringify({kind: POLICY_KIND, version: POLICY_VERSION, weights}, null, 2)}\n`;
}

/** Reads a policy file's text; `where` names the file in messages. */
export function parsePolicy(text: string, where: string): Result<Policy, string> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return err(`${where}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return err(`${where}: expected a JSON object`);
  const obj = data as Record<string, unknown>;
  if (obj['kind'] !== POLICY_KIND) return err(`${where}: "kind" must be "${POLICY_KIND}", not ${JSON.stringify(obj['kind'])}`);
  if (obj['version'] !== POLICY_VERSION) return err(`${where}: unsupported policy version ${JSON.stringify(obj['version'])} (this stage reads ${POLICY_VERSION})`);
  const raw = obj['weights'];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return err(`${where}: "weights" must be an object of domains`);
  const weights: Partial<Record<Domain, Partial<Record<Attribute, number>>>> = {};
  for (const [domain, row] of Object.entries(raw)) {
    if (!(DOMAINS as readonly string[]).includes(domain)) return err(`${where}: unknown domain "${domain}" (known: ${DOMAINS.join(', ')})`);
    if (typeof row !== 'object' || row === null || Array.isArray(row)) return err(`${where}: weights.${domain} must be an object of attributes`);
    const out: Partial<Record<Attribute, number>> = {};
    for (const [attribute, logit] of Object.entries(row as Record<string, unknown>)) {
      if (!isAttribute(attribute)) return err(`${where}: weights.${domain}: unknown attribute "${attribute}" (known: ${ATTRIBUTES.join(', ')})`);
      if (typeof logit !== 'number' || !Number.isFinite(logit)) return err(`${where}: weights.${domain}.${attribute} must be a finite number`);
      out[attribute] = logit;
    }
    weights[domain as Domain] = out;
  }
  return ok({weights});
}
