/**
 * Marks the end of an exhaustive switch: the compiler proves the value is `never`, and if a new
 * variant slips through at run time the message says which.
 */
export function unreachable(x: never): never {
  throw new Error(`Internal error: unexpected value ${String(x)}`);
}
