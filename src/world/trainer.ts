/**
 * The world's fine-tuning: fit questioner policy weights to SFT data, as `trl sft` fits a
 * checkpoint to the same data in the paper profile. Each question an example's assistant asked
 * is one observed decision: in this domain, with these attributes still uncovered, it asked
 * about this one. The fit is softmax regression on those decisions (the questioner's own
 * sampling model) by gradient ascent from the base policy. As in SFT, an epoch is one step per
 * training decision; unlike SGD, every step uses the domain's whole mean gradient, so the
 * result depends only on the data, the base and the hyperparameters, never on example order.
 */
import {ATTRIBUTES, type Attribute} from './attributes.js';
import {allText, coveredAttributes, questionsIn, type Message} from './conversation.js';
import {logitsFor, type Policy} from './policy.js';
import {softmax} from './prng.js';
import {findTask} from './recognise.js';
import {DOMAINS, type Domain} from './tasks.js';

export interface TrainOptions {
  /** Step size of each gradient step on a domain's mean log-likelihood. */
  readonly lr: number;
  /** Passes over the data: a domain with k decisions takes k steps per epoch. */
  readonly epochs: number;
}

/** What the demo profile uses: one epoch, as in the paper, at a step size that suits the world. */
export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {lr: 1, epochs: 1};

/** One question asked in an example. */
export interface Decision {
  readonly domain: Domain;
  /** The attributes not yet covered when it was asked: the choice set. */
  readonly open: readonly Attribute[];
  readonly chosen: Attribute;
}

/**
 * The decisions in one SFT example (`user: name + task, assistant: question, user: reply, …,
 * assistant: final answer`). The final answer states facts but asks nothing, so it adds none;
 * an example whose task is not in the task table adds none either.
 */
export function decisionsOf(example: readonly Message[]): Decision[] {
  const domain = findTask(allText(example))?.domain;
  if (!domain) return [];
  const out: Decision[] = [];
  example.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const asked = questionsIn([m]).find((q) => q.attribute !== undefined && q.attribute !== 'open')?.attribute;
    if (asked === undefined || asked === 'open') return;
    const covered = coveredAttributes(example.slice(0, i));
    const open = ATTRIBUTES.filter((a) => !covered.has(a));
    if (open.includes(asked)) out.push({domain, open, chosen: asked});
  });
  return out;
}

export interface TrainResult {
  readonly policy: Policy;
  readonly examples: number;
  /** Decisions per domain that the fit used. */
  readonly decisions: Readonly<Partial<Record<Domain, number>>>;
}

/** Fits a policy to the examples, starting from `base`; domains without data keep the base's weights. */
export function trainPolicy(base: Policy, examples: readonly (readonly Message[])[], options: TrainOptions = DEFAULT_TRAIN_OPTIONS): TrainResult {
  const all = examples.flatMap(decisionsOf);
  const weights: Partial<Record<Domain, Partial<Record<Attribute, number>>>> = {...base.weights};
  const counts: Partial<Record<Domain, number>> = {};
  for (const domain of DOMAINS) {
    const data = all.filter((d) => d.domain === domain);
    if (data.length === 0) continue;
    counts[domain] = data.length;
    // Identical decisions contribute identical gradients: fit on distinct ones with weights.
    const groups = new Map<string, {open: readonly Attribute[]; chosen: Attribute; weight: number}>();
    for (const d of data) {
      const key = `${d.open.join(',')}>${d.chosen}`;
      const g = groups.get(key);
      if (g) g.weight++;
      else groups.set(key, {open: d.open, chosen: d.chosen, weight: 1});
    }
    const logits = logitsFor(base, domain);
    for (let step = 0; step < options.epochs * data.length; step++) {
      const grad = Object.fromEntries(ATTRIBUTES.map((a) => [a, 0])) as Record<Attribute, number>;
      for (const g of groups.values()) {
        const p = softmax(g.open.map((a) => logits[a]));
        g.open.forEach((a, i) => (grad[a] -= g.weight * p[i]!));
        grad[g.chosen] += g.weight;
      }
      for (const a of ATTRIBUTES) logits[a] += (options.lr * grad[a]) / data.length;
    }
    weights[domain] = Object.fromEntries(ATTRIBUTES.map((a) => [a, Math.round(logits[a] * 1e6) / 1e6]));
  }
  return {policy: {weights}, examples: examples.length, decisions: counts};
}

/**
 * The probability that the policy's first question in a domain is about one of `attributes`,
 * at a temperature: how the tests and reports read a policy.
 */
export function firstQuestionMass(policy: Policy, domain: Domain, attributes: readonly Attribute[], temperature = 1): number {
  const logits = logitsFor(policy, domain);
  const p = softmax(ATTRIBUTES.map((a) => logits[a]), temperature);
  return ATTRIBUTES.reduce((sum, a, i) => sum + (attributes.includes(a) ? p[i]! : 0), 0);
}
