// The process table from /proc: a process's descendants with their state (tests of leftover processes and zombies).
import { readdir, readFile } from 'node:fs/promises';

export interface Proc { pid: number; ppid: number; state: string; cmdline: string[] }

/** Every process now (those that vanish while read are skipped). */
export async function processTable(): Promise<Proc[]> {
  const out: Proc[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'latin1');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').filter(Boolean);
      out.push({ pid: Number(name), ppid: Number(rest[1]), state: rest[0]!, cmdline });
    } catch { /* exited meanwhile */ }
  }
  return out;
}

/** The processes below `pid` (children, their children, ...). */
export async function descendants(pid: number): Promise<Proc[]> {
  const all = await processTable();
  const found: Proc[] = [];
  let frontier = new Set([pid]);
  while (frontier.size) {
    const next = all.filter((p) => frontier.has(p.ppid));
    found.push(...next);
    frontier = new Set(next.map((p) => p.pid));
  }
  return found;
}

/** Zombies below `pid`. */
export async function zombiesUnder(pid: number): Promise<Proc[]> {
  return (await descendants(pid)).filter((p) => p.state === 'Z');
}
