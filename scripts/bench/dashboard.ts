// Dashboard benchmark: the bundle's first-load size (gzipped), and the server's cost of live streams: the same
// one-file push to every host with 0 and with 50 dashboards connected to GET /api/v1/events (server CPU and RSS).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../server/src/config.js';
import { startServer } from '../../server/src/boot.js';
import { createHost } from '../../server/src/inventory/hosts-service.js';
import { startFleet } from '../../test/helpers/fleet.js';
import { createGitFixture } from '../../test/helpers/git-fixture.js';
import { deliver, gitlabPush } from '../../test/helpers/webhooks.js';
import type { Bench, Print } from './bench.js';
import { browserFigures } from './dashboard-browser.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const UNIT = 'app/prod/bench';

function line(p: ChildProcess, want: RegExp): Promise<string> {
  return new Promise((res) => {
    let buf = '';
    const on = (c: Buffer) => {
      buf += c.toString();
      const m = buf.split('\n').find((l) => want.test(l));
      if (m) { p.stdout!.off('data', on); res(m); }
    };
    p.stdout!.on('data', on);
  });
}

async function run(print: Print): Promise<void> {
  const size = await new Promise<string>((res, rej) => {
    const p = spawn(process.execPath, [join(ROOT, 'scripts', 'ui-size.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    p.on('close', (code) => (code === 0 ? res(out.trim()) : rej(new Error(`ui-size exited ${code} (npm run build:ui first)`))));
  });
  print(size);
  await browserFigures(print);
  if (process.env.BENCH_UI_SSE === '0') return;

  const hosts = Number(process.env.BENCH_UI_HOSTS ?? 50);
  const clients = Number(process.env.BENCH_UI_CLIENTS ?? 50);
  const dir = await mkdtemp(join(tmpdir(), 'gf-bench-ui-'));
  const fleet = await startFleet(join(dir, 'fleet'), hosts);
  const fx = await createGitFixture(join(dir, 'git'));
  let head = await fx.commit({ [`${UNIT}/etc/bench.conf`]: 'v0\n' });
  const config = parseConfig({
    dataDir: join(dir, 'data'), server: { port: 0 }, log: { level: 'warn' }, repo: { url: fx.origin, pollInterval: 0 },
    hostSync: { converge: { enabled: false } },
    deploy: { ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile } },
  });
  const s = await startServer(config, pino({ level: 'warn' }));
  try {
    for (const ip of fleet.ips) await createHost(s.ctx, { ip, env: 'prod', apps: ['bench'], labels: {} }, { source: 'manual' }, 'bench');
    let v = 0;
    const push = async () => {
      const next = await fx.commit({ [`${UNIT}/etc/bench.conf`]: `v${++v}\n` });
      const r = await deliver(`http://127.0.0.1:${s.port}/webhooks/gitlab`, gitlabPush({ before: head, after: next }));
      head = next;
      const d = await s.ctx.deployer.wait(r.body.queued[0]);
      if (d.status !== 'succeeded') throw new Error(`push ${d.id} ${d.status}`);
    };
    await push(); // warm: connections open, first copy landed
    const measureOne = async (n: number) => {
      let child: ChildProcess | undefined;
      if (n > 0) {
        child = spawn(process.execPath, [join(ROOT, 'scripts', 'bench', 'sse-clients.mjs'), `http://127.0.0.1:${s.port}/api/v1/events`, String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
        await line(child, /^ready$/);
      }
      global.gc?.();
      const rss0 = process.memoryUsage().rss;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await push();
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const rss1 = process.memoryUsage().rss;
      let events = 0;
      if (child) {
        child.stdin!.write('report\n');
        const counts = JSON.parse(await line(child, /^\[/)) as number[];
        events = Math.min(...counts);
        child.stdin!.write('exit\n');
        await new Promise((r) => child!.on('exit', r));
      }
      return { n, wallMs: wall, cpuMs: (cpu.user + cpu.system) / 1000, rssDeltaMiB: (rss1 - rss0) / 1048576, events };
    };
    const rows = [];
    for (const n of [0, clients, 0, clients]) rows.push(await measureOne(n));
    print(`push of one file to ${hosts} hosts, server process (in the bench) with N dashboards streaming:`);
    print('clients  wall ms  server CPU ms  RSS change MiB  events per client');
    for (const r of rows) print(`${String(r.n).padStart(7)}  ${r.wallMs.toFixed(0).padStart(7)}  ${r.cpuMs.toFixed(0).padStart(13)}  ${r.rssDeltaMiB.toFixed(1).padStart(14)}  ${String(r.events).padStart(17)}`);
  } finally {
    await s.stop();
    await fleet.down();
    await rm(dir, { recursive: true, force: true });
  }
}

const bench: Bench = { name: 'dashboard', description: 'dashboard bundle size; overview and matrix timings in Chromium; SSE fan-out to 50 dashboards during a push (server CPU, RSS)', run };
export default bench;
