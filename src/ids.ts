/**
 * Branded identifiers. Each has exactly one constructor, so a target name can never be passed
 * where a content hash is expected, and a hash always says which algorithm made it.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & {readonly [brand]: B};

/** A target's name as written in the Stagefile: `gold/A`, `model/m2`. */
export type TargetId = Brand<string, 'TargetId'>;
/** A hash of file or blob contents, algorithm-prefixed: `xxh64:0123456789abcdef`. */
export type ContentHash = Brand<string, 'ContentHash'>;
/** The key of an action: the hash of everything that determines a target's outputs. */
export type ActionKey = Brand<string, 'ActionKey'>;
/** A path relative to the workspace root, with forward slashes. */
export type RelPath = Brand<string, 'RelPath'>;

const TARGET_NAME = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.{}=-]+)*$/;

export function targetId(name: string): TargetId {
  return name as TargetId;
}

/** Why a name is not a valid target name, or undefined when it is. */
export function checkTargetName(name: string): string | undefined {
  if (TARGET_NAME.test(name)) return undefined;
  return `"${name}" is not a valid target name: use letters, digits, "_", "-", "." and "/" between parts`;
}

export function contentHash(hex: string): ContentHash {
  return `xxh64:${hex}` as ContentHash;
}

export function actionKey(hex: string): ActionKey {
  return `xxh64:${hex}` as ActionKey;
}

export function relPath(p: string): RelPath {
  return p.split('\\').join('/') as RelPath;
}

/** The hex part of a prefixed hash, used to name files in the store. */
export function hexOf(h: ContentHash | ActionKey): string {
  const i = h.indexOf(':');
  return h.slice(i + 1);
}
