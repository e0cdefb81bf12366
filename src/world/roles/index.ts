/**
 * Role selection by the request's `model`: the name starts with a role's prefix, and anything
 * after it (`world-questioner@m1`) is the pipeline's business, free to name checkpoints.
 */
import {answerer} from './answerer.js';
import {judge} from './judge.js';
import {oracle} from './oracle.js';
import {personaWriter} from './persona-writer.js';
import {questioner} from './questioner.js';
import {roleplayer} from './roleplayer.js';
import type {Role} from './types.js';

export const ROLE_NAMES = [
  'world-persona-writer', 'world-oracle', 'world-roleplayer', 'world-questioner', 'world-answerer', 'world-judge', 'world-scorer',
] as const;

export type RoleName = (typeof ROLE_NAMES)[number];

/**
 * What each role writes in a chat completion. The scorer stands for the base model; asked to
 * chat, it answers like the answerer.
 */
export const ROLES: Readonly<Record<RoleName, Role>> = {
  'world-persona-writer': personaWriter,
  'world-oracle': oracle,
  'world-roleplayer': roleplayer,
  'world-questioner': questioner,
  'world-answerer': answerer,
  'world-judge': judge,
  'world-scorer': answerer,
};

/** The role a model name selects, if any. */
export function roleOf(model: string): RoleName | undefined {
  return ROLE_NAMES.find((r) => model.startsWith(r));
}
