/** Reading parsed flags: every command handler takes them the same way. */

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A boolean flag that was given (`--x` or `--no-x`), else undefined so settings decide. */
export function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}

/** `--budget 25` or `--budget $25`: dollars, or why the text is not an amount. */
export function budgetFlag(v: unknown): {ok: true; value: number | undefined} | {ok: false; message: string} {
  const text = str(v);
  if (text === undefined) return {ok: true, value: undefined};
  const n = Number(text.replace(/^\$/, ''));
  if (Number.isFinite(n) && n >= 0) return {ok: true, value: n};
  return {ok: false, message: `--budget needs a number of dollars, not "${text}"`};
}
