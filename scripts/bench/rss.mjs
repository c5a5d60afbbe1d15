// RSS (KiB) of a process, its descendants and the processes whose command line contains `extra`
// (shared by the benchmark's sampler thread and its one-off readings).
import { readdirSync, readFileSync } from 'node:fs';

const cmdlines = new Map(); // pid → cmdline, read once per process

export function treeRssKiB(rootPid, extra = '') {
  const procs = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const rss = Number(readFileSync(`/proc/${name}/statm`, 'utf8').split(' ')[1]) * 4;
      let cmd = cmdlines.get(name);
      if (cmd === undefined && extra) { cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8'); cmdlines.set(name, cmd); }
      procs.push({ pid: Number(name), ppid, rss, cmd: cmd ?? '' });
    } catch { /* exited meanwhile */ }
  }
  const kids = new Map();
  for (const p of procs) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p]);
  const seen = new Set();
  const stack = [rootPid];
  let total = 0;
  while (stack.length) {
    const pid = stack.pop();
    if (seen.has(pid)) continue;
    seen.add(pid);
    const me = procs.find((p) => p.pid === pid);
    if (me) total += me.rss;
    for (const c of kids.get(pid) ?? []) stack.push(c.pid);
  }
  if (extra) for (const p of procs) if (!seen.has(p.pid) && p.cmd.includes(extra)) total += p.rss;
  return total;
}
