// Measuring a scenario: wall time, CPU seconds of the whole machine (client and simulated hosts alike),
// and peak memory (RSS) of this process, its descendants and any extra processes a matcher names.
export { treeRssKiB } from './rss.mjs';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** ownCpuS: this process's CPU (the gitfleet server under test, the bench itself and its sampler thread). */
export interface Measurement { wallS: number; cpuS: number; ownCpuS: number; peakRssMiB: number }

const TICKS = 100; // USER_HZ on Linux

/** user+nice+system+irq+softirq of all CPUs, in seconds. */
function machineCpuSeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).map(Number) as number[];
  return (user! + nice! + system! + irq! + softirq!) / TICKS;
}

let sampler: Worker | undefined;

/** Ask the sampler thread something and wait for its answer. */
function ask<T>(msg: object): Promise<T> {
  sampler ??= new Worker(new URL('./rss-sampler.mjs', import.meta.url));
  sampler.unref(); // never keeps the benchmark alive
  const w = sampler;
  return new Promise((resolve) => { w.once('message', resolve); w.postMessage(msg); });
}

/** End the sampler thread (its isolate is ~40 MB of this process's RSS: gone before RSS is read directly). */
export async function stopSampler(): Promise<void> {
  const w = sampler;
  sampler = undefined;
  await w?.terminate();
}

/** Run fn, sampling memory every 250 ms in a worker thread (so the sampling never blocks the measured event loop). */
export async function measure(fn: () => Promise<void>, extraMatch?: string): Promise<Measurement> {
  // The clock starts once the sampler has taken its first sample.
  await ask({ type: 'start', rootPid: process.pid, extra: extraMatch ?? '' });
  const cpu0 = machineCpuSeconds();
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  let failed: unknown;
  await fn().catch((err: unknown) => { failed = err ?? new Error('failed'); });
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = machineCpuSeconds() - cpu0;
  const own = process.cpuUsage(own0);
  const { kib } = await ask<{ kib: number }>({ type: 'stop' });
  if (failed) throw failed;
  return { wallS, cpuS, ownCpuS: (own.user + own.system) / 1e6, peakRssMiB: kib / 1024 };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function medianOf(ms: Measurement[]): Measurement {
  return { wallS: median(ms.map((m) => m.wallS)), cpuS: median(ms.map((m) => m.cpuS)), ownCpuS: median(ms.map((m) => m.ownCpuS)), peakRssMiB: median(ms.map((m) => m.peakRssMiB)) };
}

export const fmt = (m: Measurement) => `${m.wallS.toFixed(2).padStart(7)} s wall ${m.cpuS.toFixed(1).padStart(6)} CPU-s ${m.peakRssMiB.toFixed(0).padStart(6)} MiB`;
