/**
 * Expected failures travel as values, so a caller cannot forget that a step can fail and every
 * failure can carry a location and a hint. Exceptions are kept for broken invariants.
 */
export type Result<T, E> = {ok: true; value: T} | {ok: false; error: E};

export function ok<T>(value: T): {ok: true; value: T} {
  return {ok: true, value};
}

export function err<E>(error: E): {ok: false; error: E} {
  return {ok: false, error};
}

/** The message of anything thrown, for reports. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
