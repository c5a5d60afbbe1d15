// Worker thread: samples the memory (RSS) of the benchmark's process tree every 250 ms without blocking the
// measured event loop (gitfleet runs in that process). Says 'ready' after its first sample, posts the peak (KiB) when told to stop.
import { parentPort, workerData } from 'node:worker_threads';
import { treeRssKiB } from './rss.mjs';

// Every 250 ms: a sample reads /proc/<pid>/stat of every process (~700 with a warm fleet, ~5 ms), and its CPU
// counts in the machine's figures: at 100 ms it took ~14% of a core, more in runs that leave more processes.
const INTERVAL_MS = 250;
const { rootPid, extra } = workerData;
let peak = treeRssKiB(rootPid, extra);
const timer = setInterval(() => { peak = Math.max(peak, treeRssKiB(rootPid, extra)); }, INTERVAL_MS);
parentPort.postMessage('ready'); // the clock starts after this: the thread's own start-up is not measured
parentPort.on('message', () => {
  clearInterval(timer);
  peak = Math.max(peak, treeRssKiB(rootPid, extra));
  parentPort.postMessage(peak);
});
