// Measuring a scenario: wall time, CPU seconds of the whole machine (client and simulated hosts alike),
// and peak memory (RSS) of this process, its descendants and any extra processes a matcher names.
import { readdirSync, readFileSync } from 'node:fs';

export interface Measurement { wallS: number; cpuS: number; peakRssMiB: number }

const TICKS = 100; // USER_HZ on Linux

/** user+nice+system+irq+softirq of all CPUs, in seconds. */
function machineCpuSeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).map(Number) as number[];
  return (user! + nice! + system! + irq! + softirq!) / TICKS;
}

interface Proc { pid: number; ppid: number; rssKiB: number; cmd: string }

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const rssPages = Number(readFileSync(`/proc/${name}/statm`, 'utf8').split(' ')[1]);
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      out.push({ pid: Number(name), ppid, rssKiB: rssPages * 4, cmd });
    } catch { /* exited meanwhile */ }
  }
  return out;
}

/** RSS (KiB) of this process, its descendants, and processes whose command line contains `extra`. */
export function treeRssKiB(extra?: string): number {
  const procs = processes();
  const children = new Map<number, Proc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const seen = new Set<number>();
  const stack = [process.pid];
  let total = 0;
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const me = procs.find((p) => p.pid === pid);
    if (me) total += me.rssKiB;
    for (const c of children.get(pid) ?? []) stack.push(c.pid);
  }
  if (extra) for (const p of procs) if (!seen.has(p.pid) && p.cmd.includes(extra)) total += p.rssKiB;
  return total;
}

/** Run fn, sampling memory every 50 ms. */
export async function measure(fn: () => Promise<void>, extraMatch?: string): Promise<Measurement> {
  let peak = treeRssKiB(extraMatch);
  const timer = setInterval(() => { peak = Math.max(peak, treeRssKiB(extraMatch)); }, 50);
  const cpu0 = machineCpuSeconds();
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = machineCpuSeconds() - cpu0;
  peak = Math.max(peak, treeRssKiB(extraMatch));
  return { wallS, cpuS, peakRssMiB: peak / 1024 };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function medianOf(ms: Measurement[]): Measurement {
  return { wallS: median(ms.map((m) => m.wallS)), cpuS: median(ms.map((m) => m.cpuS)), peakRssMiB: median(ms.map((m) => m.peakRssMiB)) };
}

export const fmt = (m: Measurement) => `${m.wallS.toFixed(2).padStart(7)} s wall ${m.cpuS.toFixed(1).padStart(6)} CPU-s ${m.peakRssMiB.toFixed(0).padStart(6)} MiB`;
