// Push benchmark on a simulated fleet: gitfleet (webhook in → all hosts done), cold and warm connections,
// against fssync's way (one rsync per host, all at once) and Debian's prsync at the same concurrency.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../server/src/config.js';
import { startServer, type RunningServer } from '../../server/src/boot.js';
import { createHost } from '../../server/src/inventory/hosts-service.js';
import { startFleet, type Fleet } from '../../test/helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../../test/helpers/git-fixture.js';
import { deliver, gitlabPush } from '../../test/helpers/webhooks.js';
import type { Bench, Print } from './bench.js';
import { fmt, measure, medianOf, stopSampler, type Measurement } from './measure.js';

const FILES = 200;
const FILE_BYTES = 10 * 1024;
const UNIT = 'app/prod/bench';
const CONF = 'opt/bench/conf';

function exec(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited ${code}: ${err.slice(-500)}`))));
  });
}

const content = () => `${randomBytes((FILE_BYTES * 3) / 4).toString('base64')}\n`;

interface Ctx { fleet: Fleet; fx: GitFixture; checkout: string; concurrency: number; version: number }

const sshOpts = (f: Fleet) => ['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${f.knownHostsFile}`, '-o', `IdentityFile=${f.identityFile}`, '-o', 'IdentitiesOnly=yes'];

async function wipe(c: Ctx): Promise<void> {
  await Promise.all(c.fleet.ips.map((ip) => rm(c.fleet.path(ip, '/opt/bench'), { recursive: true, force: true, maxRetries: 10 })));
}

/** One changed file, in git (pushed) and in the baselines' local checkout. */
async function changeOneFile(c: Ctx): Promise<string> {
  c.version++;
  const name = `${CONF}/f${String(c.version % FILES).padStart(3, '0')}.conf`;
  const data = content();
  await writeFile(join(c.checkout, name), data);
  return c.fx.commit({ [`${UNIT}/${name}`]: data }, `bench change ${c.version}`);
}

const allAtOnce = (c: Ctx) => async () => {
  await Promise.all(c.fleet.ips.map((ip) => exec('rsync', ['-rlpt', '-e', `ssh ${sshOpts(c.fleet).join(' ')}`, `${c.checkout}/`, `root@${ip}:/`])));
};

const prsync = (c: Ctx) => async () => {
  const opts: string[] = [];
  for (let i = 0; i < sshOpts(c.fleet).length; i += 2) if (sshOpts(c.fleet)[i] === '-o') opts.push('-O', sshOpts(c.fleet)[i + 1]!);
  await exec('parallel-rsync', ['-h', join(c.fleet.dir, 'hosts.txt'), '-l', 'root', '-p', String(c.concurrency), '-t', '0', '-r', '-x', '-lpt', ...opts, '-S', '-F /dev/null', `${c.checkout}/`, '/']);
};

async function failures(s: RunningServer, id: number): Promise<string> {
  const { hostPushes } = await import('../../server/src/db/deployments.js');
  return (await hostPushes(s.ctx.db, id)).filter((h) => h.status !== 'succeeded').map((h) => `${h.ip}: ${h.reason} ${h.stderrTail ?? ''}`).join('; ');
}

async function webhookPush(s: RunningServer, before: string, after: string): Promise<void> {
  const r = await deliver(`http://127.0.0.1:${s.port}/webhooks/gitlab`, gitlabPush({ before, after }));
  if (r.status !== 202) throw new Error(`webhook answered ${r.status}: ${JSON.stringify(r.body)}`);
  const d = await s.ctx.deployer.wait(r.body.queued[0]);
  if (d.status !== 'succeeded') throw new Error(`deployment ${d.id} ${d.status}: ${await failures(s, d.id)}`);
}

async function syncUnit(s: RunningServer): Promise<void> {
  const { id } = await s.ctx.deployer.submit({ kind: 'sync', trigger: 'manual', units: [UNIT] });
  const d = await s.ctx.deployer.wait(id);
  if (d.status !== 'succeeded') throw new Error(`sync ${id} ${d.status}: ${await failures(s, id)}`);
}

type Scenario = 'full push' | 'one-file change' | 'no-change check';
const ALL_SCENARIOS: Scenario[] = ['full push', 'one-file change', 'no-change check'];

async function runBench(print: Print): Promise<void> {
  const hosts = Number(process.env.BENCH_HOSTS ?? 50);
  const reps = Number(process.env.BENCH_REPS ?? 3);
  const warmConns = Number(process.env.BENCH_WARM_CONNECTIONS ?? 200);
  // What users get unless they configure it.
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? parseConfig({}).deploy.concurrency);
  const SCENARIOS = ALL_SCENARIOS.filter((x) => !process.env.BENCH_SCENARIOS || process.env.BENCH_SCENARIOS.split(',').includes(x));
  const verbose = process.env.BENCH_VERBOSE === '1';
  const dir = await mkdtemp(join(tmpdir(), 'gf-bench-'));
  // The simulated hosts' filesystems in memory: 50 "machines" sharing this box's one disk would measure its writeback.
  const inMemory = await exec('mount', ['-t', 'tmpfs', '-o', 'size=4g,mode=0755', 'gf-bench', dir]).then(() => true, () => false);
  const fleet = await startFleet(join(dir, 'fleet'), hosts).catch(async (err) => {
    if (inMemory) await exec('umount', [dir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  let server: RunningServer | undefined;
  try {
    const fx = await createGitFixture(join(dir, 'git'));
    const files: Record<string, string> = { 'README.md': 'bench repo\n' };
    const checkout = join(dir, 'checkout');
    await mkdir(join(checkout, CONF), { recursive: true });
    for (let i = 0; i < FILES; i++) {
      const name = `${CONF}/f${String(i).padStart(3, '0')}.conf`;
      files[`${UNIT}/${name}`] = content();
      await writeFile(join(checkout, name), files[`${UNIT}/${name}`]!);
    }
    const initial = await fx.commit(files, 'bench unit');
    const c: Ctx = { fleet, fx, checkout, concurrency, version: 0 };
    print(`fleet: ${hosts} simulated hosts (sshd each, own root), unit ${UNIT}: ${FILES} files, ${(FILES * FILE_BYTES / 1024 / 1024).toFixed(1)} MB; ${reps} rep(s), median shown`);
    print(`concurrency: gitfleet deploy.concurrency=${concurrency}, prsync -p ${concurrency}, fssync-style: all ${hosts} at once; CPU-s = whole machine (client and hosts)`);
    print(`host filesystems: ${inMemory ? 'tmpfs (in memory)' : 'on disk (tmpfs mount failed)'}; baselines and gitfleet alternate going first`);

    const config = parseConfig({
      dataDir: join(dir, 'data'), server: { port: 0 }, log: { level: 'warn' },
      repo: { url: fx.origin, pollInterval: 0 },
      // The bench adds its hosts itself; a converge deployment of them would run beside the first measurements.
      hostSync: { converge: { enabled: false } },
      deploy: { concurrency, retries: 0, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, maxConnections: Math.max(warmConns, hosts), shellWrites: process.env.BENCH_SHELL_WRITES !== '0' } },
    });
    server = await startServer(config, pino({ level: 'warn' }));
    const s = server;
    for (const ip of fleet.ips) await createHost(s.ctx, { ip, env: 'prod', apps: ['bench'], labels: {} }, { source: 'manual' }, 'bench');
    const cmDir = (s.ctx.ssh as unknown as { o: { controlDir: string } }).o.controlDir;

    const results = new Map<string, Measurement[]>();
    const add = (k: string, m: Measurement) => {
      results.set(k, [...(results.get(k) ?? []), m]);
      if (verbose) print(`  ${k.padEnd(40)} ${fmt(m)}  (this process ${m.ownCpuS.toFixed(2)} CPU-s)`);
    };
    let head = initial;
    /** The commit is made before the clock starts: measured is webhook in → every host done. */
    const gitfleet = async (scenario: Scenario): Promise<() => Promise<void>> => {
      if (scenario === 'no-change check') return () => syncUnit(s);
      const before = head;
      head = await changeOneFile(c);
      const after = head;
      return () => webhookPush(s, before, after);
    };
    const prepare = async (scenario: Scenario) => {
      if (scenario === 'full push') await wipe(c);
    };
    for (let rep = 0; rep < reps; rep++) {
      // All hosts start each rep in sync with the checkout and git.
      await syncUnit(s);
      await s.ctx.ssh.closeIdle();
      for (const scenario of SCENARIOS) {
        const baselines = async () => {
          for (const [name, baseline] of [['all at once', allAtOnce(c)], ['prsync', prsync(c)]] as const) {
            // Hosts as this baseline leaves them (its own mtimes, which its quick check relies on), then the change.
            if (scenario === 'full push') await wipe(c);
            else await allAtOnce(c)();
            if (scenario === 'one-file change') head = await changeOneFile(c);
            add(`${name}|${scenario}`, await measure(baseline));
          }
        };
        const ours = async () => {
          // Git and hosts aligned first: the baselines push the checkout, not git.
          await syncUnit(s);
          await s.ctx.ssh.closeIdle();
          await prepare(scenario);
          add(`gitfleet cold|${scenario}`, await measure(await gitfleet(scenario), cmDir));
          await prepare(scenario);
          add(`gitfleet warm|${scenario}`, await measure(await gitfleet(scenario), cmDir));
        };
        // Alternate who goes first, so neither side always inherits the other's leftovers (page cache, writeback).
        if (rep % 2 === 0) { await baselines(); await ours(); } else { await ours(); await baselines(); }
        await s.ctx.ssh.closeIdle();
      }
    }

    const targets: Record<Scenario, { warm: number; cold: number }> = {
      'full push': { warm: 0.7, cold: 1.1 }, 'one-file change': { warm: 0.25, cold: 1.1 }, 'no-change check': { warm: 0.2, cold: 1.1 },
    };
    for (const scenario of SCENARIOS) {
      print(`\n${scenario}`);
      const m = (k: string) => medianOf(results.get(`${k}|${scenario}`)!);
      const all = m('all at once');
      const pr = m('prsync');
      const best = all.wallS <= pr.wallS ? all : pr;
      const bestName = best === all ? 'all at once' : 'prsync';
      print(`  ${'all at once (fssync)'.padEnd(24)} ${fmt(all)}`);
      print(`  ${`prsync -p ${concurrency}`.padEnd(24)} ${fmt(pr)}`);
      for (const kind of ['cold', 'warm'] as const) {
        const g = m(`gitfleet ${kind}`);
        const ratio = g.wallS / best.wallS;
        const target = targets[scenario][kind];
        print(`  ${`gitfleet ${kind}`.padEnd(24)} ${fmt(g)}   ${ratio.toFixed(2)}× ${bestName} (target ≤ ${target}×: ${ratio <= target ? 'met' : 'NOT met'}; CPU ${(g.cpuS / best.cpuS).toFixed(2)}×)`);
      }
    }

    // How gitfleet reached the hosts over the whole run: a warm push should probe and write through the shell.
    const counts = async (c: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }> }) =>
      (await c.get()).values.map((v) => `${v.labels.result} ${v.value}`).join(', ') || 'none';
    print(`\nprobes: ${await counts(s.ctx.metrics.probes)}; shell writes: ${await counts(s.ctx.metrics.shellWrites)}`);

    // Memory and descriptors with many warm connections.
    if (warmConns > 0) {
      const more = await startFleet(join(dir, 'fleet'), warmConns, fleet.ips[0]!.split('.').slice(0, 3).join('.'));
      for (const ip of more.ips.slice(hosts)) await createHost(s.ctx, { ip, env: 'prod', apps: ['bench'], labels: {} }, { source: 'manual' }, 'bench');
      await syncUnit(s);
      await stopSampler();
      const open = s.ctx.ssh.openCount;
      const fds = (await readdir('/proc/self/fd')).length;
      const rss = process.memoryUsage().rss / 1024 / 1024;
      const { treeRssKiB } = await import('./measure.js');
      const masters = (treeRssKiB(process.pid, cmDir) - treeRssKiB(process.pid)) / 1024;
      print(`\nwith ${open} warm connections: server RSS ${rss.toFixed(0)} MiB, server open fds ${fds}, ssh master processes ${masters.toFixed(0)} MiB in all (${(masters / Math.max(open, 1)).toFixed(1)} MiB each)`);
      fleet.ips.splice(0, fleet.ips.length, ...more.ips);
    }
  } finally {
    await server?.stop();
    await fleet.down();
    if (inMemory) await exec('umount', ['-l', dir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

const bench: Bench = { name: 'push', description: 'full push, one-file change, no-change check on a simulated fleet vs all-at-once rsync and prsync', run: runBench };
export default bench;
