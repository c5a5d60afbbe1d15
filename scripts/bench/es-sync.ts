// ES metrics sync benchmark: one run over 10,000 inventory hosts against a loopback Elasticsearch that computes the
// aggregation answers, batched (esSync.batchSize IPs per terms aggregation) against one request per host, in the same
// process and the same job code (only batchSize differs). Reports requests, wall time, machine CPU and the ratio.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../server/src/config.js';
import { openDb, type Db } from '../../server/src/db/connection.js';
import * as store from '../../server/src/db/es-sync.js';
import { insertHost } from '../../server/src/db/hosts.js';
import { migrate } from '../../server/src/db/migrate.js';
import type { EsSyncConfig } from '../../server/src/essync/config-schema.js';
import { EsClients } from '../../server/src/essync/es-client.js';
import { executeRun } from '../../server/src/essync/job.js';
import { createLogger } from '../../server/src/log.js';
import { startFakeEs, type FakeEs, type FakeHost } from '../../test/essync/fake-es.js';
import type { Bench } from './bench.js';

const N = Number(process.env.ESSYNC_BENCH_HOSTS ?? 10_000);
const BATCH = 1000;
const LATENCY = Number(process.env.ESSYNC_BENCH_LATENCY_MS ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** Every 10th host has no documents (no_data); the others a day of CPU, memory and disk samples, deterministic. */
function esData(): Record<string, FakeHost> {
  const out: Record<string, FakeHost> = {};
  for (let i = 1; i <= N; i++) {
    if (i % 10 === 0) continue;
    const f = (k: number) => ((i * 7919 + k * 104_729) % 1000) / 1000;
    out[ip(i)] = { cpu: [f(1), f(2), f(3)], mem: [f(4), f(5)], disk: [f(6)], hostName: `host-${i}` };
  }
  return out;
}

async function seed(db: Db): Promise<number> {
  const now = new Date().toISOString();
  await db.tx(async (q) => {
    for (let i = 1; i <= N; i++) await insertHost(q, { ip: ip(i), hostname: `host-${i}`, env: 'prod', apps: ['shop'] }, { source: 'bench' }, now);
  });
  return db.tx((q) => store.insertTask(q, { name: 'bench', description: '', esEndpoint: null, indexPattern: 'metricbeat-*', cron: '0 0 * * * *', timeRange: '30d', enabled: true, createdBy: 'bench' }, now));
}

interface Outcome { wallS: number; cpuS: number; peakRssMiB: number; searches: number; status: string; success: number; noData: number }

/** One scheduled-style run (whole inventory) with the given batch size. */
async function oneRun(db: Db, es: FakeEs, taskId: number, cfg: EsSyncConfig): Promise<Outcome> {
  const task = (await store.getTask(db, taskId))!;
  const clients = new EsClients(cfg);
  const deps = { db, log: createLogger('silent'), clock: () => new Date(), config: cfg, clients };
  const before = es.searches.length;
  // Wall, CPU and peak RSS of this process only: gitfleet, the ES client and the fake ES all run here, and the machine
  // may be busy with other work. (Walking /proc for a process tree every 50 ms would itself cost CPU here on long runs.)
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 50);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const runId = await store.insertRun(db, { taskId, taskName: task.name, trigger: 'schedule', timeRange: task.timeRange, esEndpoint: cfg.endpoint, indexPattern: task.indexPattern, startedAt: new Date().toISOString() });
  const run = await executeRun(deps, { runId, task, endpoint: cfg.endpoint, ips: null, trigger: 'schedule' }, new AbortController().signal);
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  await clients.close();
  const searches = es.searches.length - before;
  if (searches !== run.requests) throw new Error(`the fake saw ${searches} searches, the run counted ${run.requests}`);
  es.searches.length = 0; // keep memory flat between runs
  return { wallS, cpuS: (cpu.user + cpu.system) / 1e6, peakRssMiB: Math.max(peak, process.memoryUsage.rss()) / 2 ** 20, searches, status: run.status, success: run.successCount, noData: run.noDataCount };
}

const bench: Bench = {
  name: 'es-sync',
  description: `ES metrics sync over ${N.toLocaleString('en')} inventory hosts: batched terms aggregation (${BATCH} IPs/request) vs one request per host`,
  async run(print) {
    const dir = await mkdtemp(join(tmpdir(), 'gf-bench-es-'));
    const es = await startFakeEs(esData());
    const db = await openDb(join(dir, 'bench.db'));
    try {
      await migrate(db);
      const taskId = await seed(db);
      const base = parseConfig({ esSync: { endpoint: es.url, maxRetries: 0 } }).esSync;
      const batched = { ...base, batchSize: BATCH };
      const perHost = { ...base, batchSize: 1 };
      print(`hosts ${N}; both modes: same job code, ${base.concurrency} requests in flight, fake ES in this process`);
      // 0 ms: only our own and the client's per-request cost. LATENCY ms: plus a flat per-search cost, like the fixed
      // overhead (parse, shard fan-out, reduce) a real cluster charges each search whatever its size.
      for (const latency of [0, LATENCY]) {
        es.delayMs = latency;
        print(`-- added latency per search: ${latency} ms`);
        await oneRun(db, es, taskId, batched); // warm-up: JIT, SQLite page cache, keep-alive sockets
        const b: Outcome[] = [];
        for (let i = 0; i < 3; i++) b.push(await oneRun(db, es, taskId, batched));
        const p = await oneRun(db, es, taskId, perHost);
        const mid = [...b].sort((x, y) => x.wallS - y.wallS)[1]!;
        const bw = median(b.map((o) => o.wallS));
        const bc = median(b.map((o) => o.cpuS));
        const row = (label: string, o: Outcome, wallS: number, cpuS: number) =>
          print(`${label.padEnd(22)} ${String(o.searches).padStart(6)} requests ${wallS.toFixed(2).padStart(7)} s wall ${cpuS.toFixed(2).padStart(7)} CPU-s ${o.peakRssMiB.toFixed(0).padStart(5)} MiB peak RSS  ${o.status}: ${o.success} with metrics, ${o.noData} no data`);
        row('batched (median of 3)', mid, bw, bc);
        row('one request per host', p, p.wallS, p.cpuS);
        print(`ratio per-host / batched: ${(p.wallS / bw).toFixed(1)}x wall time, ${(p.cpuS / bc).toFixed(1)}x CPU, ${(p.searches / mid.searches).toFixed(0)}x requests`);
      }
      if (es.unexpected.length) throw new Error(`fake ES saw unexpected requests: ${es.unexpected.slice(0, 3).join(', ')}`);
    } finally {
      await db.close();
      await es.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
