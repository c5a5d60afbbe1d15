// Webhook intake benchmark: a gitfleet server in its own process (so its RSS and event loop are its own), a real
// config repo, and 1,000 authenticated GitLab deliveries in about 10 s: 200 real commits reaching the branch one
// after another, each delivered once, redelivered twice at the same moment and twice later. Reports ack latency
// (request sent → answer received), RSS before and after, deployments made and the most waiting at once.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import sqlite3 from 'sqlite3';
import { createGitFixture } from '../../test/helpers/git-fixture.js';
import { gitlabPush, type Delivery } from '../../test/helpers/webhooks.js';
import type { Bench, Print } from './bench.js';

const run = promisify(execFile);
const DELIVERIES = Number(process.env.BENCH_WEBHOOKS ?? 1000);
const COMMITS = Number(process.env.BENCH_WEBHOOK_COMMITS ?? 200);
const SECONDS = Number(process.env.BENCH_WEBHOOK_SECONDS ?? 10);
const TOKEN = 'bench-webhook-token';
// The compiled server, as `npm start` runs it (`npm run build` first; setup.sh does).
const MAIN = resolve(import.meta.dirname, '..', '..', 'server', 'dist', 'main.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
/** CPU seconds (user + system) a process has used so far. */
const cpuS = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ ticks
};
const loadAvg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/**
 * Start the server as `npm start` does, on a port it picks; resolves with its port once it listens. Its log goes
 * to a file, as under pm2 (a pipe read by this busy process would hold up the server's synchronous log writes).
 */
async function startChild(configFile: string, logFile: string): Promise<{ child: ChildProcess; port: number }> {
  const out = openSync(logFile, 'a');
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (or bash scripts/setup.sh install)`);
  const child = spawn(process.execPath, ['--max-semi-space-size=8', MAIN, '--config', configFile], { stdio: ['ignore', out, 'inherit'], cwd: resolve(import.meta.dirname, '..', '..') });
  closeSync(out);
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode} before listening`);
    const line = readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes('"msg":"listening"'));
    if (line) return { child, port: (JSON.parse(line) as { port: number }).port };
    await sleep(100);
  }
  throw new Error('server did not listen within 60 s');
}

/** Server-side time of each webhook request logged after byte offset `from` (pino-http's responseTime). */
function serverTimes(logFile: string, from: number): number[] {
  const out: number[] = [];
  for (const line of readFileSync(logFile).subarray(from).toString('utf8').split('\n')) {
    if (!line.includes('"responseTime"')) continue;
    const rec = JSON.parse(line) as { responseTime?: number; req?: { url?: string } };
    if (typeof rec.responseTime === 'number' && rec.req?.url === '/webhooks/gitlab') out.push(rec.responseTime);
  }
  return out;
}

interface Sent { key: string; status: number; ms: number }

async function send(url: string, d: Delivery, key: string): Promise<Sent> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, { method: 'POST', headers: d.headers, body: d.body });
    await res.arrayBuffer();
    return { key, status: res.status, ms: performance.now() - t0 };
  } catch {
    return { key, status: 0, ms: performance.now() - t0 };
  }
}

async function runBench(print: Print): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gf-bench-webhooks-'));
  let child: ChildProcess | undefined;
  try {
    const fx = await createGitFixture(join(dir, 'git'));
    const units = 10;
    await fx.commit(Object.fromEntries(Array.from({ length: units }, (_, u) => [`app/prod/svc${u}/etc/svc.conf`, 'v0\n'])));
    // Every commit made up front; the branch then moves to each in turn during the run (update-ref: no push to wait for).
    const commits = await fx.commitMany(COMMITS, (i) => ({ [`app/prod/svc${i % units}/etc/svc.conf`]: `v${i + 1}\n` }), { push: false });
    await run('git', ['-C', fx.work, 'push', '-q', 'origin', `${commits.at(-1)}:refs/bench/all`]);
    const config = {
      dataDir: join(dir, 'data'),
      server: { port: 0, host: '127.0.0.1' },
      repo: { url: fx.origin, pollInterval: 0 },
      webhook: { gitlab: { token: TOKEN } },
      hostSync: { converge: { enabled: false } },
      log: { level: 'info' },
    };
    await writeFile(join(dir, 'gitfleet.json'), JSON.stringify(config));
    const logFile = join(dir, 'server.log');
    const started = await startChild(join(dir, 'gitfleet.json'), logFile);
    child = started.child;
    const url = `http://127.0.0.1:${started.port}/webhooks/gitlab`;
    // Warm-up: a few requests that deploy nothing (another branch), so the first measured ones pay no first-use costs.
    for (let i = 0; i < 20; i++) await send(url, gitlabPush({ before: commits[0]!, after: commits[0]!, token: TOKEN, branch: 'warm-up' }), 'warm-up');
    await sleep(500);
    const logFrom = statSync(logFile).size;
    const rssBefore = rssMiB(child.pid!);
    const cpu0 = cpuS(child.pid!);

    const db = new sqlite3.Database(join(dir, 'data', 'gitfleet.db'), sqlite3.OPEN_READONLY);
    const count = (sql: string) => new Promise<number>((res) => db.get(sql, (err, row: { n: number } | undefined) => res(err ? -1 : row?.n ?? 0)));
    let maxWaiting = 0;
    let peakRss = rssBefore;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxWaiting = Math.max(maxWaiting, await count("SELECT COUNT(*) AS n FROM deployments WHERE status = 'queued'"));
        peakRss = Math.max(peakRss, rssMiB(child!.pid!));
        await sleep(50);
      }
    })();

    // Per commit: the branch moves, then one delivery and two simultaneous redeliveries; two more redeliveries later.
    const perCommit = Math.max(1, Math.round(DELIVERIES / COMMITS));
    const stepMs = (SECONDS * 1000 * 0.7) / COMMITS; // the late redeliveries fill the last 30%
    const sent: Array<Promise<Sent>> = [];
    const t0 = performance.now();
    for (const [i, c] of commits.entries()) {
      const at = t0 + i * stepMs;
      if (performance.now() < at) await sleep(at - performance.now());
      await run('git', ['-C', fx.origin, 'update-ref', 'refs/heads/main', c]);
      const key = randomUUID();
      const d = gitlabPush({ before: i ? commits[i - 1]! : c, after: c, token: TOKEN, idempotencyKey: key });
      const now = Math.min(perCommit, 3);
      for (let k = 0; k < now; k++) sent.push(send(url, d, key));
      for (let k = now; k < perCommit; k++) {
        sent.push(sleep(500 + Math.random() * (SECONDS * 1000 * 0.3)).then(() => send(url, d, key)));
      }
    }
    const results = await Promise.all(sent);
    const wallS = (performance.now() - t0) / 1000;
    const cpuStorm = cpuS(child.pid!) - cpu0;
    // Let the deployments drain, then read the figures.
    for (let i = 0; i < 600 && (await count("SELECT COUNT(*) AS n FROM deployments WHERE status IN ('queued','running')")) > 0; i++) await sleep(100);
    sampling = false;
    await sampler;
    const rssAfter = rssMiB(child.pid!);
    const deployments = await count("SELECT COUNT(*) AS n FROM deployments WHERE trigger = 'gitlab'");
    const empty = await count("SELECT COUNT(*) AS n FROM deployments WHERE trigger = 'gitlab' AND units = '[]'");
    const head = await new Promise<string | undefined>((res) => db.get('SELECT last_seen FROM repo_state', (err, row: { last_seen: string } | undefined) => res(err ? undefined : row?.last_seen)));
    db.close();

    const ms = results.map((r) => r.ms).sort((a, b) => a - b);
    const byStatus = new Map<number, number>();
    for (const r of results) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    const acceptedPerKey = new Map<string, number>();
    for (const r of results) if (r.status === 202) acceptedPerKey.set(r.key, (acceptedPerKey.get(r.key) ?? 0) + 1);
    const twice = [...acceptedPerKey.values()].filter((n) => n > 1).length;
    const sms = serverTimes(logFile, logFrom).sort((a, b) => a - b);
    const p50 = pct(ms, 50);
    const p99 = pct(ms, 99);
    const growth = rssAfter - rssBefore;
    print(`deliveries          ${results.length} in ${wallS.toFixed(1)} s (${(results.length / wallS).toFixed(0)}/s), ${COMMITS} commits, statuses ${[...byStatus].map(([s, n]) => `${s}×${n}`).join(' ')}`);
    print(`ack latency         p50 ${p50.toFixed(1)} ms · p95 ${pct(ms, 95).toFixed(1)} ms · p99 ${p99.toFixed(1)} ms · max ${ms.at(-1)!.toFixed(1)} ms   (target p99 < 50 ms: ${p99 < 50 ? 'met' : 'MISSED'})`);
    if (sms.length) print(`  in the server      p50 ${pct(sms, 50).toFixed(1)} ms · p99 ${pct(sms, 99).toFixed(1)} ms · max ${sms.at(-1)!.toFixed(1)} ms (pino-http responseTime: request parsed → answer written, ${sms.length} requests)`);
    print(`server CPU          ${cpuStorm.toFixed(2)} s during the deliveries (${((cpuStorm / results.length) * 1000).toFixed(2)} ms per delivery, deployments included); load average at the end ${loadAvg()}`);
    print(`server RSS          ${rssBefore.toFixed(1)} → ${rssAfter.toFixed(1)} MiB (growth ${growth.toFixed(1)} MiB, peak ${peakRss.toFixed(1)})   (target growth < 20 MB: ${growth < 20 ? 'met' : 'MISSED'})`);
    print(`deployments         ${deployments} for ${COMMITS} commits, ${empty} with nothing to do, at most ${maxWaiting} waiting at once; deliveries accepted twice: ${twice}; branch deployed to the last commit: ${head === commits.at(-1) ? 'yes' : 'NO'}`);
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  }
}

const bench: Bench = {
  name: 'webhooks',
  description: `${DELIVERIES} authenticated GitLab deliveries (${COMMITS} commits, redeliveries) in ~${SECONDS} s: ack latency, server RSS`,
  run: runBench,
};
export default bench;
