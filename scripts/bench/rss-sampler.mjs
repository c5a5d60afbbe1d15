// Worker thread: samples the memory (RSS) of the benchmark's process tree every 100 ms without blocking the
// measured event loop (gitfleet runs in that process). Says 'ready' after its first sample, posts the peak (KiB) when told to stop.
import { parentPort, workerData } from 'node:worker_threads';
import { treeRssKiB } from './rss.mjs';

const { rootPid, extra } = workerData;
let peak = treeRssKiB(rootPid, extra);
const timer = setInterval(() => { peak = Math.max(peak, treeRssKiB(rootPid, extra)); }, 100);
parentPort.postMessage('ready'); // the clock starts after this: the thread's own start-up is not measured
parentPort.on('message', () => {
  clearInterval(timer);
  peak = Math.max(peak, treeRssKiB(rootPid, extra));
  parentPort.postMessage(peak);
});
