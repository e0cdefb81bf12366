/** The engine's version, recorded as the producer of every store entry. */
export const STAGE_VERSION = '0.1.0';
