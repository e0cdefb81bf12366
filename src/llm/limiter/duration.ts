import {err, ok, type Result} from '../../util/result.js';

/** Milliseconds per unit of Go's time.Duration syntax; both micro signs are accepted, as Go does. */
const UNIT_MS: Readonly<Record<string, number>> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 MICRO SIGN
  'μs': 1e-3, // U+03BC GREEK SMALL LETTER MU
  ns: 1e-6,
};

/** One `<number><unit>` group; the number may be "1", "1.5", ".5" or "1." as in Go. */
const GROUP = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|h|m|s)/y;

/**
 * Parses a Go duration ("6m0s", "1s", "20ms", "1h2m3.5s", "-1.5s", "0") into milliseconds.
 *
 * OpenAI writes `x-ratelimit-reset-*` this way, and the limiter must not guess: a value it cannot
 * read is reported as an error, so the caller ignores that header instead of acting on a
 * misreading. Fractions of a millisecond are kept; rounding is the caller's business.
 */
export function parseGoDuration(text: string): Result<number, string> {
  let s = text.trim();
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return ok(0);
  if (s === '') return err(`"${text}" is not a Go duration: it is empty`);
  let total = 0;
  GROUP.lastIndex = 0;
  while (GROUP.lastIndex < s.length) {
    const at = GROUP.lastIndex;
    const m = GROUP.exec(s);
    if (m === null) {
      const rest = s.slice(at);
      return err(/^[\d.]+$/.test(rest)
        ? `"${text}" is not a Go duration: "${rest}" has no unit`
        : `"${text}" is not a Go duration: cannot read "${rest}" (units are h, m, s, ms, us, ns)`);
    }
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
  }
  return Number.isFinite(total) ? ok(sign * total) : err(`"${text}" is not a Go duration: it is out of range`);
}
