/** One value or a list of them, as a list: for options that take either (a target's servers). */
export function listOf<T>(x: T | readonly T[]): readonly T[] {
  return Array.isArray(x) ? (x as readonly T[]) : [x as T];
}
