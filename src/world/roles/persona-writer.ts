/**
 * The persona writer: a fresh persona per call. The draw is seeded by the request (messages,
 * `seed`, temperature, choice index), so a pipeline gets distinct personas by varying `seed` or
 * asking for `n` choices, and the same request always yields the same persona.
 */
import {drawPersona, renderPersona} from '../persona.js';
import type {Role} from './types.js';

export const personaWriter: Role = ({rng}) => renderPersona(drawPersona(rng));
