// Worker thread: samples the memory (RSS) of the benchmark's process tree without blocking the measured event
// loop (gitfleet runs in that process). One thread for the whole run, told to start and stop: a thread started
// per measurement (a new isolate and the tsx loader, ~70 ms of CPU) left its start-up and teardown in the
// measurements. Every 250 ms: a sample reads /proc/<pid>/stat of every process (~700 with a warm fleet,
// ~5 ms) and its CPU counts in the machine's figures; at 100 ms it took ~14% of a core.
import { parentPort } from 'node:worker_threads';
import { treeRssKiB } from './rss.mjs';

const INTERVAL_MS = 250;
let timer;
let peak = 0;
let target;
const sample = () => { peak = Math.max(peak, treeRssKiB(target.rootPid, target.extra)); };

parentPort.on('message', (m) => {
  if (m.type === 'start') {
    target = m;
    peak = 0;
    sample();
    timer = setInterval(sample, INTERVAL_MS);
    parentPort.postMessage({ type: 'started' });
  } else if (m.type === 'stop') {
    clearInterval(timer);
    sample();
    parentPort.postMessage({ type: 'peak', kib: peak });
  }
});
