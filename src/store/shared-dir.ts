import {chmodSync, chownSync, mkdirSync, statSync} from 'node:fs';
import {dirname} from 'node:path';
import {errnoCode} from '../util/fs.js';

/**
 * How a store directory is shared. A lab cache is a directory owned by the lab's group with the
 * setgid bit set (mode 2775): everything created under it then belongs to that group. Creating
 * directories is the only place permissions are set, and only on directories this process has
 * just created, so no one ever chmods a file someone else owns (the source of most shared-cache
 * permission bugs in other tools). Files need no chmod of their own: blobs and entries are
 * read-only for everyone, and whoever can write a directory may rename into it or unlink from it.
 */
export interface SharedDir {
  /** Whether the store's root is setgid: its directories are then made 2775 (`mkdirShared`). */
  readonly group: boolean;
  /**
   * Gives a file this process made elsewhere and moved in (a rule's output, renamed from the
   * workspace's staging area) the store's group: setgid applies to files created in the
   * directory, not to files renamed into it. The file is ours, so changing its group is allowed.
   */
  adopt(path: string): void;
}

const SETGID = 0o2000;
const GROUP_DIR_MODE = 0o2775;

/** The sharing mode of a store root: group mode when the root exists and has the setgid bit. */
export function sharedDir(root: string): SharedDir {
  const st = statSync(root, {throwIfNoEntry: false});
  const group = st !== undefined && st.isDirectory() && (st.mode & SETGID) !== 0;
  if (!group) return {group, adopt: () => {}};
  const gid = st.gid;
  return {group, adopt: (path) => chownSync(path, -1, gid)};
}

/**
 * `mkdir -p` for anything under a store. A directory created inside a setgid directory is made
 * 2775: the umask would strip the group's write bit, and the group is who shares it. The chmod
 * is on a directory this process has just created, so it owns it; a directory another user made
 * first (EEXIST) is left exactly as it is. Outside a setgid directory this is a plain mkdir.
 */
export function mkdirShared(path: string): void {
  if (statSync(path, {throwIfNoEntry: false})?.isDirectory()) return;
  const parent = dirname(path);
  if (parent !== path) mkdirShared(parent);
  try {
    mkdirSync(path);
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return;
    throw e;
  }
  if ((statSync(parent).mode & SETGID) !== 0) chmodSync(path, GROUP_DIR_MODE);
}
