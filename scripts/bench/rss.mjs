// RSS (KiB) of a process, its descendants and the processes whose command line contains `extra`
// (shared by the benchmark's sampler thread and its one-off readings). Cheap on purpose: it runs every
// 250 ms during a measurement and its CPU counts in the machine's, so one read per process (/proc/<pid>/stat
// holds both the parent and the RSS), a command line read once per process, no quadratic lookups.
import { readdirSync, readFileSync } from 'node:fs';

const PAGE_KIB = 4;
const cmdlines = new Map(); // pid → cmdline, read once per process

export function treeRssKiB(rootPid, extra = '') {
  const rss = new Map();
  const kids = new Map();
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat;
    try { stat = readFileSync(`/proc/${name}/stat`, 'latin1'); } catch { continue; } // exited meanwhile
    // Fields after "(comm)": state ppid ... rss is field 24 overall, i.e. index 21 after the comm.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(name);
    const ppid = Number(f[1]);
    rss.set(pid, Number(f[21]) * PAGE_KIB);
    const list = kids.get(ppid);
    if (list) list.push(pid); else kids.set(ppid, [pid]);
  }
  const seen = new Set();
  const stack = [rootPid];
  let total = 0;
  while (stack.length) {
    const pid = stack.pop();
    if (seen.has(pid)) continue;
    seen.add(pid);
    total += rss.get(pid) ?? 0;
    for (const c of kids.get(pid) ?? []) stack.push(c);
  }
  if (extra) {
    for (const [pid, kib] of rss) {
      if (seen.has(pid)) continue;
      let cmd = cmdlines.get(pid);
      if (cmd === undefined) {
        try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1'); } catch { cmd = ''; }
        cmdlines.set(pid, cmd);
      }
      if (cmd.includes(extra)) total += kib;
    }
  }
  return total;
}
