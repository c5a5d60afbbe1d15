// Is a process still running (not merely a zombie waiting for its parent to reap it)?
import { readFileSync } from 'node:fs';

/**
 * Still running? A zombie is not: an exited master is reparented to init, and an init that reaps late (seen: a
 * VM's minimal init, ~1.5 s) would otherwise hold every close until its timeout.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true; // no procfs: what kill said
  }
}
