// Host-sync reconcile benchmark: 100,000 hosts of one source in the inventory, a listing with 1% changed, 0.5% new
// and 0.5% gone. The incremental run (uid/hash reconcile, one transaction) against the naive one (delete every host of
// the source and insert the listing again, also one transaction), each in its own process on a copy of the same
// database, so that peak memory is that approach's alone.
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { openDb } from '../../server/src/db/connection.js';
import { insertRun, replaceAll } from '../../server/src/db/host-sync.js';
import { insertHost } from '../../server/src/db/hosts.js';
import { migrate } from '../../server/src/db/migrate.js';
import { executeRun } from '../../server/src/hostsync/job.js';
import { hashHost, mapRecord, resolveMapping } from '../../server/src/hostsync/mapping.js';
import type { Candidate } from '../../server/src/hostsync/reconcile.js';
import type { SourceRecord } from '../../server/src/hostsync/source.js';
import { InventoryEvents } from '../../server/src/inventory/events.js';
import { createLogger } from '../../server/src/log.js';
import type { Bench } from './bench.js';

const N = Number(process.env.HOSTSYNC_BENCH_HOSTS ?? 100_000);
const SOURCE = 'bench';
const APPS = ['shop', 'pay', 'search', 'user', 'order', 'cart'];
const ENVS = ['prod', 'staging', 'test'];
const MAPPING = resolveMapping({ env: { field: 'env' }, apps: { field: 'apps' }, labels: ['region', 'zone', 'cpu', 'memGb'] });

const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
/** Host i of the source; version 1 = the same host after a change (one more app, more memory). */
function record(i: number, version = 0): SourceRecord {
  return {
    uid: `i-${i.toString(36).padStart(8, '0')}`, ip: ip(i + 1), hostname: `host-${i}`,
    fields: {
      env: ENVS[i % 3]!, apps: version ? `${APPS[i % 6]},${APPS[(i + 1) % 6]}` : APPS[i % 6]!,
      region: 'cn-hangzhou', zone: `cn-hangzhou-${'hijk'[i % 4]}`, cpu: String(2 << (i % 4)), memGb: String((4 << (i % 4)) * (version + 1)),
    },
  };
}

/** The listing: every 200th host gone (0.5%), every 100th (offset 1) changed (1%), 0.5% new hosts. Deterministic. */
function listing(): SourceRecord[] {
  const out: SourceRecord[] = [];
  for (let i = 0; i < N; i++) {
    if (i % 200 === 0) continue;
    out.push(record(i, i % 100 === 1 ? 1 : 0));
  }
  for (let i = 0; i < N / 200; i++) out.push(record(N + i));
  return out;
}

/** Worker: one approach on its own database copy; prints JSON {ms, peakRssMiB, baseRssMiB, counts}. */
async function worker(mode: string, file: string): Promise<void> {
  const db = await openDb(file);
  const records = listing();
  const base = process.memoryUsage().rss;
  const t0 = performance.now();
  let counts: Record<string, number> = {};
  if (mode === 'incremental') {
    const deps = { db, events: new InventoryEvents(), clock: () => new Date(), log: createLogger('silent'), shutdown: new AbortController().signal };
    const src = { name: SOURCE, source: { type: 'bench', list: async () => records }, mapping: MAPPING, timeoutSeconds: 3600, maxDeleteShare: 0.5, maxRecordedErrors: 100, keepRuns: 10 };
    const run = await executeRun(deps, src, await insertRun(db, SOURCE, 'bench', 'bench', new Date().toISOString()), { trigger: 'bench' });
    if (run.status !== 'succeeded') throw new Error(`run ${run.status}: ${run.error}`);
    counts = { added: run.added, modified: run.modified, deleted: run.deleted, unchanged: run.unchanged };
  } else {
    const cands: Candidate[] = [];
    for (const r of records) { const m = mapRecord(r, MAPPING); if (m.kind === 'host') cands.push({ uid: m.uid, hash: m.hash, host: m.host }); }
    await db.tx((q) => replaceAll(q, SOURCE, cands, new Date().toISOString()));
    counts = { deleted: N, added: cands.length };
  }
  const ms = performance.now() - t0;
  const hosts = (await db.get<{ n: number }>('SELECT count(*) AS n FROM hosts'))!.n;
  await db.close();
  process.stdout.write(JSON.stringify({ ms, peakRssMiB: process.resourceUsage().maxRSS / 1024, baseRssMiB: base / 1048576, counts, hosts }));
}

/** The starting inventory: N hosts of the source, as a previous run would have stored them. */
async function prepare(file: string): Promise<void> {
  const db = await openDb(file);
  await migrate(db);
  const now = new Date().toISOString();
  await db.tx(async (q) => {
    for (let i = 0; i < N; i++) {
      const m = mapRecord(record(i), MAPPING);
      if (m.kind !== 'host') throw new Error('bad fixture');
      await insertHost(q, m.host, { source: SOURCE, sourceUid: m.uid, hash: hashHost(m.host) }, now);
    }
  });
  await db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  await db.close();
}

const self = fileURLToPath(import.meta.url);
const run = promisify(execFile);

const bench: Bench = {
  name: 'host-sync',
  description: `reconcile ${N.toLocaleString('en')} inventory hosts against a listing with 1% changed, 0.5% new, 0.5% gone: incremental vs delete-all-and-reinsert`,
  async run(print) {
    const dir = await mkdtemp(join(tmpdir(), 'gf-bench-hs-'));
    try {
      const template = join(dir, 'template.db');
      const t = performance.now();
      await prepare(template);
      print(`prepared ${N} hosts in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      const results: Record<string, { ms: number; peakRssMiB: number; baseRssMiB: number; counts: Record<string, number>; hosts: number }> = {};
      for (const mode of ['incremental', 'naive']) {
        const file = join(dir, `${mode}.db`);
        await copyFile(template, file);
        const { stdout } = await run(process.execPath, ['--import', 'tsx', self, '--worker', mode, file], { maxBuffer: 1 << 20, timeout: 1_800_000 });
        results[mode] = JSON.parse(stdout);
      }
      const inc = results.incremental!, naive = results.naive!;
      if (inc.hosts !== naive.hosts) throw new Error(`the approaches disagree: ${inc.hosts} vs ${naive.hosts} hosts`);
      print('| approach | run time | peak RSS (process) | RSS growth during run | changes |');
      print('| --- | --- | --- | --- | --- |');
      for (const [name, r] of Object.entries(results)) {
        print(`| ${name} | ${(r.ms / 1000).toFixed(2)} s | ${r.peakRssMiB.toFixed(0)} MiB | ${(r.peakRssMiB - r.baseRssMiB).toFixed(0)} MiB | ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')} |`);
      }
      print(`ratio naive / incremental: time ${(naive.ms / inc.ms).toFixed(1)}x, peak RSS ${(naive.peakRssMiB / inc.peakRssMiB).toFixed(2)}x, RSS growth ${((naive.peakRssMiB - naive.baseRssMiB) / Math.max(1, inc.peakRssMiB - inc.baseRssMiB)).toFixed(2)}x`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
export default bench;

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  if (process.argv[2] === '--worker') await worker(process.argv[3]!, process.argv[4]!);
  else await bench.run((l) => console.log(l));
}
