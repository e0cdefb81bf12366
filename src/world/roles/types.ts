/**
 * What every role receives. Roles are pure functions of the request's messages, its
 * temperature, a generator seeded by the request and choice index, and the server's policy.
 */
import type {Message} from '../conversation.js';
import type {Policy} from '../policy.js';
import type {Rng} from '../prng.js';

export interface RoleInput {
  readonly messages: readonly Message[];
  /** The request's sampling temperature (OpenAI's default, 1, when it sent none). */
  readonly temperature: number;
  readonly rng: Rng;
  /** The questioner's policy; other roles ignore it. */
  readonly policy: Policy;
}

/** A role writes one choice's text. */
export type Role = (input: RoleInput) => string;
