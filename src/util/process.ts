import {userInfo} from 'node:os';
import {errnoCode} from './fs.js';

/**
 * Whether a process exists on this host. EPERM means it does, under another user. Pids below 1
 * name process groups, not a process, so they are never alive here.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid < 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

/** Who runs this process, for records others read: the user name, or the uid without a passwd entry (containers). */
export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}
