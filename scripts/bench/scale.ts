// Scale benchmark (issue 19): gitfleet's own bookkeeping for one deployment to thousands of hosts — planning,
// claiming, recording — with the in-memory transport (memory-transport.ts) standing in for SSH and rsync.
//
//   npm run bench:scale                                   # 500 and 5,000 hosts, SQLite and PostgreSQL
//   npm run bench:scale -- --hosts 5000 --stores postgres --profile
//   npm run bench:scale -- --workers 1,2,4                # multi-process: 1 API node + N workers, PostgreSQL
//
// Every gitfleet process is a child (scale-node.ts) started like `npm start` (--max-semi-space-size=8); its CPU
// (process.cpuUsage) and peak RSS (VmHWM) are its own. On PostgreSQL the database's CPU (the private cluster's
// postmaster and backends, from /proc) is reported separately.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../server/src/config.js';
import { createGitFixture } from '../../test/helpers/git-fixture.js';
import { startPostgres, type TestPostgres } from '../../test/helpers/postgres.js';
import type { NodeSpec, NodeStats } from './scale-node.js';
import { summariseProfile } from './cpuprofile.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const ENV = 'prod';
const APP = 'bench';
const UNIT = `app/${ENV}/${APP}`;
/** The unit: five small config files in two directories. */
const FILES: Record<string, string> = Object.fromEntries(
  ['opt/bench/app.conf', 'opt/bench/limits.conf', 'opt/bench/conf.d/upstream.conf', 'opt/bench/conf.d/logging.conf', 'etc/default/bench']
    .map((f, i) => [`${UNIT}/${f}`, `# ${f}\n${'key_'.repeat(8)}${i} = ${'v'.repeat(200)}\n`]),
);
const TARGET_CPU_MS = 1;
const TARGET_RSS_MIB = 300;

const { values: opt } = parseArgs({
  options: {
    hosts: { type: 'string', default: '500,5000' },
    stores: { type: 'string', default: 'sqlite,postgres' },
    workers: { type: 'string' },
    concurrency: { type: 'string' },
    'claim-timeout': { type: 'string', default: '30' },
    timeout: { type: 'string', default: '900' },
    profile: { type: 'boolean', default: false },
    reps: { type: 'string', default: '1' },
  },
});
const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const concurrency = Number(opt.concurrency ?? parseConfig({}).deploy.concurrency);
const timeoutS = Number(opt.timeout);
const claimTimeoutS = Number(opt['claim-timeout']);

/** One gitfleet process (scale-node.ts) and its line protocol. */
class Node {
  private readonly waiters: Array<{ prefix: string; resolve: (rest: string) => void }> = [];
  private stderr = '';
  port = 0;
  readonly exited: Promise<number | null>;

  constructor(readonly name: string, private readonly proc: ChildProcess) {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const i = this.waiters.findIndex((w) => line.startsWith(`${w.prefix}`));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(line.slice(line.indexOf(' ') + 1));
    });
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => { this.stderr = (this.stderr + c).slice(-4000); });
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  }

  get pid(): number { return this.proc.pid!; }
  get errors(): string { return this.stderr.trim(); }

  /** Send a line and wait for the answer line starting with `prefix` (rejects if the process ends first). */
  ask(line: string, prefix: string, timeoutMs = 120_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no "${prefix}" within ${timeoutMs / 1000} s; stderr: ${this.errors.slice(-1500)}`)), timeoutMs);
      void this.exited.then((code) => reject(new Error(`${this.name} exited ${code}: ${this.errors.slice(-1500)}`)));
      this.waiters.push({ prefix, resolve: (rest) => { clearTimeout(timer); resolve(rest); } });
      if (line) this.proc.stdin!.write(`${line}\n`);
    });
  }

  async stats(): Promise<NodeStats> { return JSON.parse(await this.ask('stats', 'stats ')) as NodeStats; }

  async api(path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
      method: init.method ?? 'GET', headers: init.body ? { 'content-type': 'application/json' } : {}, body: init.body ? JSON.stringify(init.body) : undefined,
    });
    const text = await res.text();
    try { return { status: res.status, body: JSON.parse(text) }; } catch { return { status: res.status, body: text }; }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    this.proc.stdin!.write('stop\n');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 60_000);
    await this.exited;
    clearTimeout(t);
  }
}

async function startNode(name: string, spec: NodeSpec): Promise<Node> {
  const proc = spawn(process.execPath, ['--max-semi-space-size=8', '--import', 'tsx', join(HERE, 'scale-node.ts'), JSON.stringify(spec)], {
    cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'],
  });
  const node = new Node(name, proc);
  node.port = (JSON.parse(await node.ask('', 'ready ', 600_000)) as { port: number }).port;
  return node;
}

const TICKS = 100; // USER_HZ
/** utime+stime (and, with children, cutime+cstime: reaped children) of a process, in ms; 0 if gone. */
function procCpuMs(pid: number, withReaped = false): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const x = f.slice(f.lastIndexOf(')') + 2).split(' ').map(Number); // x[0] is field 3 (state)
    return ((x[11]! + x[12]! + (withReaped ? x[13]! + x[14]! : 0)) * 1000) / TICKS;
  } catch { return 0; }
}

/** The private cluster this process started (test/helpers/postgres.ts): its postmaster's pid. */
function postmasterPid(): number {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith('gitfleet-pg-'))) {
    const dir = join(tmpdir(), name);
    try {
      if (Number(readFileSync(join(dir, 'owner.pid'), 'utf8')) !== process.pid) continue;
      return Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch { /* not ours, or not started */ }
  }
  throw new Error('cannot find the private PostgreSQL cluster of this process');
}

/** CPU ms of the whole cluster: the postmaster with its reaped children, and every live child (backends, writers). */
function clusterCpuMs(postmaster: number): number {
  let sum = procCpuMs(postmaster, true);
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) sum += procCpuMs(Number(p));
    } catch { /* gone */ }
  }
  return sum;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TERMINAL = (s: string) => !['queued', 'running', 'pending'].includes(s);

/** Submit the deployment of the unit to `api`; returns its id. */
async function submit(api: Node): Promise<number> {
  const r = await api.api('/api/v1/deployments', { method: 'POST', body: { units: [UNIT] } });
  if (r.status !== 202) throw new Error(`POST /api/v1/deployments answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body.id as number;
}

/**
 * The deployment's status while it runs, from the newest-first list (a light read: GET /deployments/:id carries every
 * host's record, thousands of rows, and polling it would be a measured cost of its own); read in full once done.
 */
async function status(api: Node, id: number): Promise<string> {
  const r = await api.api('/api/v1/deployments?limit=5');
  const d = (r.body.items as Array<{ id: number; status: string }>).find((x) => x.id === id);
  if (!d) throw new Error(`deployment ${id} not in the list`);
  return d.status;
}

/** Every host succeeded with the unit's five files (from GET /api/v1/deployments/:id). */
async function verify(api: Node, id: number, hosts: number): Promise<{ ms: number; kib: number }> {
  const t0 = performance.now();
  const r = await api.api(`/api/v1/deployments/${id}`);
  const read = { ms: performance.now() - t0, kib: JSON.stringify(r.body).length / 1024 };
  const d = r.body as { status: string; hosts: Array<{ ip: string; status: string; reason: string | null; changes: string[] }> };
  const bad = d.hosts.filter((h) => h.status !== 'succeeded' || h.changes.length !== Object.keys(FILES).length);
  if (d.status !== 'succeeded' || d.hosts.length !== hosts || bad.length) {
    throw new Error(`deployment ${id}: ${d.status}, ${d.hosts.length} host record(s), ${bad.length} not succeeded with ${Object.keys(FILES).length} files (${bad.slice(0, 3).map((h) => `${h.ip}: ${h.status} ${h.reason} ${h.changes.length}`).join('; ')})`);
  }
  return read;
}

interface Result { read: { ms: number; kib: number }; store: string; hosts: number; wallS: number; cpuMs: number; dbCpuMs?: number; rssBeforeMiB: number; hwmMiB: number; profile?: string; threads: Record<string, number> }

let pgCluster: Promise<TestPostgres> | undefined;
const postgres = () => (pgCluster ??= startPostgres());

async function withRepo<T>(fn: (dir: string, origin: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'gf-scale-'));
  try {
    const fx = await createGitFixture(join(dir, 'git'));
    await fx.commit(FILES, 'bench unit');
    return await fn(dir, fx.origin);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One process (role all), `hosts` hosts, one deployment: its cost. */
async function single(store: 'sqlite' | 'postgres', hosts: number): Promise<Result> {
  return withRepo(async (dir, origin) => {
    const dbUrl = store === 'postgres' ? await (await postgres()).createDatabase('gitfleet_bench') : undefined;
    const pm = store === 'postgres' ? postmasterPid() : 0;
    const node = await startNode(`${store}/${hosts}`, { dataDir: join(dir, 'data'), repoUrl: origin, dbUrl, role: 'all', hosts, env: ENV, app: APP, concurrency });
    try {
      const profileFile = opt.profile ? join(tmpdir(), `gitfleet-scale-${store}-${hosts}-${Date.now()}.cpuprofile`) : undefined;
      if (profileFile) await node.ask('profile-start', 'profiling');
      const s0 = await node.stats();
      const db0 = pm ? clusterCpuMs(pm) : 0;
      const t0 = performance.now();
      const id = await submit(node);
      while (!TERMINAL(await status(node, id))) {
        if (performance.now() - t0 > timeoutS * 1000) throw new Error(`deployment ${id} not finished within ${timeoutS} s`);
        await sleep(200);
      }
      const wallS = (performance.now() - t0) / 1000;
      const s1 = await node.stats();
      const db1 = pm ? clusterCpuMs(pm) : 0;
      if (profileFile) await node.ask(`profile-stop ${profileFile}`, 'profiled');
      const read = await verify(node, id, hosts);
      if (s1.rsyncRuns !== hosts) throw new Error(`the transport answered ${s1.rsyncRuns} rsync runs for ${hosts} hosts`);
      return {
        read, store, hosts, wallS, cpuMs: s1.cpuMs - s0.cpuMs, dbCpuMs: pm ? db1 - db0 : undefined,
        rssBeforeMiB: s0.rssKiB / 1024, hwmMiB: s1.hwmKiB / 1024, profile: profileFile,
        threads: Object.fromEntries(Object.entries(s1.threads).map(([k, v]) => [k, v - (s0.threads[k] ?? 0)])),
      };
    } finally {
      await node.stop();
    }
  });
}

/** 1 API node + n workers on one PostgreSQL database; `hosts` hosts; hosts/s of one deployment. */
async function multi(n: number, hosts: number): Promise<{ n: number; wallS: number; perWorker: number[]; cpuMs: number[]; apiCpuMs: number; dbCpuMs: number }> {
  return withRepo(async (dir, origin) => {
    const dbUrl = await (await postgres()).createDatabase('gitfleet_bench');
    const pm = postmasterPid();
    const base = { repoUrl: origin, dbUrl, env: ENV, app: APP, concurrency };
    const nodes: Node[] = [];
    try {
      const api = await startNode('api', { ...base, dataDir: join(dir, 'api'), role: 'api', hosts });
      nodes.push(api);
      const workers = await Promise.all(Array.from({ length: n }, (_, i) => startNode(`worker ${i + 1}`, { ...base, dataDir: join(dir, `worker${i + 1}`), role: 'worker', hosts: 0 })));
      nodes.push(...workers);
      const s0 = await Promise.all(nodes.map((x) => x.stats()));
      const db0 = clusterCpuMs(pm);
      const t0 = performance.now();
      const id = await submit(api);
      let claimed = false;
      for (;;) {
        const st = await status(api, id);
        const [a, ...w] = await Promise.all(nodes.map((x) => x.stats()));
        if (a!.rsyncRuns > 0) {
          throw new Error(`no worker claimed the deployment: the API node (--role api) ran ${a!.rsyncRuns} host push(es) itself (in this build the API node does not leave deployments to workers)`);
        }
        claimed ||= w.some((x) => x.rsyncRuns > 0);
        if (TERMINAL(st)) {
          if (!claimed) throw new Error(`no worker claimed the deployment: it ended ${st} with no host push run by any worker`);
          break;
        }
        const elapsed = (performance.now() - t0) / 1000;
        if (!claimed && elapsed > claimTimeoutS) throw new Error(`no worker claimed the deployment within ${claimTimeoutS} s (status ${st})`);
        if (elapsed > timeoutS) throw new Error(`deployment ${id} not finished within ${timeoutS} s (status ${st})`);
        await sleep(250);
      }
      const wallS = (performance.now() - t0) / 1000;
      const s1 = await Promise.all(nodes.map((x) => x.stats()));
      const db1 = clusterCpuMs(pm);
      await verify(api, id, hosts);
      const ran = s1.slice(1).map((x, i) => x.rsyncRuns - s0[i + 1]!.rsyncRuns);
      // More than one per host is possible (a push re-run after its lease was lost); fewer is not.
      if (ran.reduce((a, b) => a + b, 0) < hosts) throw new Error(`the workers ran ${ran.join('+')} host pushes for ${hosts} hosts`);
      return { n, wallS, perWorker: ran, cpuMs: s1.slice(1).map((x, i) => x.cpuMs - s0[i + 1]!.cpuMs), apiCpuMs: s1[0]!.cpuMs - s0[0]!.cpuMs, dbCpuMs: db1 - db0 };
    } finally {
      await Promise.all(nodes.map((x) => x.stop()));
    }
  });
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');

async function main(): Promise<void> {
  const hostCounts = list(opt.hosts).map(Number);
  console.log(`unit ${UNIT}: ${Object.keys(FILES).length} files; deploy.concurrency=${concurrency}; in-memory transport (no SSH, no rsync); one deployment through POST /api/v1/deployments`);
  console.log(`machine: ${cpus().length} cores, load ${loadavg().map(f2).join(' ')}${opt.profile ? '; PROFILED (CPU figures include the profiler)' : ''}`);
  if (opt.workers) {
    const ns = list(opt.workers).map(Number);
    const hosts = hostCounts[hostCounts.length - 1]!;
    console.log(`\nmulti-process on PostgreSQL: 1 API node (--role api) + N workers (--role worker), ${hosts} hosts`);
    console.log(`  ${'N'.padStart(3)} ${'wall s'.padStart(8)} ${'hosts/s'.padStart(8)} ${'× N=1'.padStart(6)}  pushes per worker   worker CPU ms/host  api CPU ms  db CPU ms/host`);
    let first: number | undefined;
    for (const n of ns) {
      const r = await multi(n, hosts);
      const rate = hosts / r.wallS;
      first ??= rate;
      console.log(`  ${String(n).padStart(3)} ${f2(r.wallS).padStart(8)} ${f1(rate).padStart(8)} ${f2(rate / first).padStart(6)}  ${r.perWorker.join('/').padEnd(18)} ${r.cpuMs.map((c) => f2(c / hosts)).join('/').padEnd(19)} ${f1(r.apiCpuMs).padStart(10)}  ${f2(r.dbCpuMs / hosts).padStart(14)}`);
    }
    return;
  }
  const results: Result[] = [];
  const loadBefore = loadavg()[0]!;
  for (const store of list(opt.stores)) {
    if (store !== 'sqlite' && store !== 'postgres') throw new Error(`--stores: sqlite or postgres, not ${store}`);
    for (const hosts of hostCounts) {
      // Several runs: the one with the median CPU per host is shown (this machine is shared; the load varies).
      const runs: Result[] = [];
      for (let i = 0; i < Number(opt.reps); i++) runs.push(await single(store, hosts));
      runs.sort((a, b) => a.cpuMs - b.cpuMs);
      results.push(runs[Math.floor(runs.length / 2)]!);
      if (runs.length > 1) console.log(`  ${store} ${hosts}: CPU ms/host of ${runs.length} runs: ${runs.map((r) => f2(r.cpuMs / hosts)).join(', ')}`);
    }
  }
  console.log(`\nload average: ${f2(loadBefore)} before, ${f2(loadavg()[0]!)} after`);
  console.log(`\n  ${'store'.padEnd(9)} ${'hosts'.padStart(6)} ${'wall s'.padStart(8)} ${'hosts/s'.padStart(8)} ${'CPU ms/host'.padStart(12)} ${'db CPU ms/host'.padStart(15)} ${'RSS before'.padStart(11)} ${'peak RSS'.padStart(9)}  targets (≤ ${TARGET_CPU_MS} ms/host, < ${TARGET_RSS_MIB} MiB)`);
  for (const r of results) {
    const perHost = r.cpuMs / r.hosts;
    console.log(`  ${r.store.padEnd(9)} ${String(r.hosts).padStart(6)} ${f2(r.wallS).padStart(8)} ${f1(r.hosts / r.wallS).padStart(8)} ${f2(perHost).padStart(12)} ${(r.dbCpuMs === undefined ? '-' : f2(r.dbCpuMs / r.hosts)).padStart(15)} ${`${r.rssBeforeMiB.toFixed(0)} MiB`.padStart(11)} ${`${r.hwmMiB.toFixed(0)} MiB`.padStart(9)}  CPU ${verdict(perHost <= TARGET_CPU_MS)}, RSS ${verdict(r.hwmMiB < TARGET_RSS_MIB)}`);
  }
  // Per-host cost against the smallest fleet of the same store, measured in this run: flat means it scales.
  for (const store of new Set(results.map((r) => r.store))) {
    const rs = results.filter((r) => r.store === store).sort((a, b) => a.hosts - b.hosts);
    const base = rs[0]!;
    for (const r of rs.slice(1)) {
      console.log(`  ${store}: ${r.hosts} vs ${base.hosts} hosts: CPU per host ×${f2((r.cpuMs / r.hosts) / (base.cpuMs / base.hosts))}, wall per host ×${f2((r.wallS / r.hosts) / (base.wallS / base.hosts))}${r.dbCpuMs !== undefined && base.dbCpuMs ? `, db CPU per host ×${f2((r.dbCpuMs / r.hosts) / (base.dbCpuMs / base.hosts))}` : ''}, peak RSS +${(r.hwmMiB - base.hwmMiB).toFixed(0)} MiB`);
    }
  }
  console.log('\n  server CPU ms/host by thread (main: JavaScript; libuv-worker: SQLite statements, file reads; V8 helpers: GC):');
  for (const r of results) {
    const parts = Object.entries(r.threads).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${f2(v / r.hosts)}`);
    console.log(`  ${r.store.padEnd(9)} ${String(r.hosts).padStart(6)}  ${parts.join(', ')}`);
  }
  console.log('\n  the finished deployment read once (GET /api/v1/deployments/:id, every host\'s record; not in the figures above):');
  for (const r of results) console.log(`  ${r.store.padEnd(9)} ${String(r.hosts).padStart(6)}  ${r.read.ms.toFixed(0)} ms, ${(r.read.kib / 1024).toFixed(1)} MiB of JSON`);
  for (const r of results.filter((x) => x.profile && existsSync(x.profile))) {
    console.log(`\nprofile ${r.store}/${r.hosts} (${r.profile}): self time`);
    for (const line of summariseProfile(JSON.parse(readFileSync(r.profile!, 'utf8')), (url) => relative(ROOT, fileURLToPath(url)))) console.log(`  ${line}`);
  }
}

try {
  await main();
} catch (err) {
  console.error(`\nscale bench FAILED: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  if (pgCluster) await (await pgCluster).stop();
}
