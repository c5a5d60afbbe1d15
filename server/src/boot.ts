// startServer(config): open the store, the repo and SSH, build the context, listen, start schedulers; stop() drains and closes.
import { accessSync, constants as fsc, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { AppContext } from './context.js';
import { openStore } from './db/open.js';
import { migrate } from './db/migrate.js';
import { createProvider } from './cmdb/registry.js';
import { Deployer } from './deploy/deployer.js';
import { startDriftSchedule } from './deploy/drift.js';
import { startReaper } from './deploy/reaper.js';
import { ensureLocalRepo } from './gitops/local-repo.js';
import { ensureBaseline, startPoller, type Poller } from './gitops/poller.js';
import { ConfigRepo } from './gitops/repo.js';
import { createApp } from './http/app.js';
import { InventoryEvents } from './inventory/events.js';
import { LiveBus } from './events/live-bus.js';
import { feedLiveBus } from './events/feed.js';
import { createMetrics } from './metrics.js';
import type { AppModule } from './module.js';
import { createModules } from './modules.js';
import { PreviewService } from './preview/service.js';
import { SshConnections, type SshConnectionsOptions } from './ssh/connections.js';
import { Launcher } from './util/launcher.js';
import { failingUnits } from './db/unit-failures.js';
import { ensureIdentity, ensureKnownHosts } from './ssh/keys.js';
import { ensureAgeIdentity, identityFileOf } from './templating/secrets.js';
import { startWarmKeeper } from './ssh/warm-keeper.js';
import { SyncWindows } from './windows/service.js';
import { Auth } from './auth/auth-service.js';
import { listenPolicy } from './auth/listen-policy.js';
import { AuditLog } from './audit/audit-log.js';
import { ConfigError } from './errors.js';
import { clusterNode } from './cluster/node.js';
import { Hints } from './cluster/hints.js';
import { HostExecutor } from './cluster/host-executor.js';
import { ClusterLoop } from './cluster/loop.js';
import { startLeader } from './cluster/leader.js';
import { openChannel } from './cluster/channel.js';
import { startLiveBridge } from './cluster/live-bridge.js';
import { announceWork, onWork } from './cluster/wake.js';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunningServer {
  ctx: AppContext;
  server: Server;
  port: number;
  poller: Poller;
  modules: AppModule[];
  stop(): Promise<void>;
}

/** Control sockets must fit the ~104-byte unix socket path limit: fall back to a private dir under /tmp. */
function controlDir(dataDir: string): string {
  const preferred = join(dataDir, 'ssh', 'cm');
  return preferred.length + 22 <= 100 ? preferred : join(tmpdir(), `gitfleet-cm-${createHash('sha1').update(dataDir).digest('hex').slice(0, 12)}`);
}

/**
 * The launcher's job files (every git read's output, rsync's file lists, FIFOs) live off the data dir, in RAM when
 * /dev/shm is there: a full data disk must not break git reads, and they are scratch files anyway.
 */
function runDir(dataDir: string): string {
  const hash = createHash('sha1').update(resolve(dataDir)).digest('hex').slice(0, 12);
  const shm = '/dev/shm';
  const base = existsSync(shm) && accessible(shm) ? shm : tmpdir();
  return join(base, `gitfleet-run-${hash}`);
}

function accessible(dir: string): boolean {
  try { accessSync(dir, fsc.W_OK | fsc.X_OK); return true; } catch { return false; }
}

/** What reaches the hosts: the launcher that starts rsync and ssh (and git), and the SSH connection manager. */
export interface Transport { launcher: Launcher; ssh: SshConnections }

/**
 * Options of startServer. `transport`: a stand-in for SSH and rsync (the benchmark's in-memory one,
 * scripts/bench/memory-transport.ts), given the real launcher and the options the real connection manager would get.
 */
export interface StartOptions {
  modules?: AppModule[];
  clock?: () => Date;
  transport?: (real: { launcher: Launcher; sshOptions: SshConnectionsOptions }) => Transport;
}

export async function startServer(config: Config, log: Logger, opts: StartOptions = {}): Promise<RunningServer> {
  await mkdir(config.dataDir, { recursive: true });
  const db = await openStore(config);
  const applied = await migrate(db);
  if (applied.length) log.info({ applied }, 'database migrated');
  // Secure by default: no API token and not loopback → no start (unless api.open); checked before anything else starts.
  const clock = opts.clock ?? (() => new Date());
  const node = clusterNode(config.cluster);
  const auth = new Auth({ config, db, clock });
  const policy = listenPolicy(config.server.host, await auth.tokensConfigured(), config.api.open);
  if (!policy.start) {
    await db.close();
    throw new ConfigError([policy.problem]);
  }
  if (policy.warning) log.warn({ host: config.server.host }, policy.warning);
  const audit = new AuditLog({ db, log, clock });
  const channel = await openChannel({ url: config.db.url, db, log: log.child({ component: 'channel' }), name: node.id }).catch(async (err: unknown) => {
    await db.close();
    throw err;
  });

  const sshCfg = config.deploy.ssh;
  const identityFile = sshCfg.identityFile ?? join(config.dataDir, 'ssh', 'id_ed25519');
  const knownHostsFile = sshCfg.knownHostsFile ?? join(config.dataDir, 'ssh', 'known_hosts');
  const pub = await ensureIdentity(identityFile);
  await ensureKnownHosts(knownHostsFile);
  log.info({ publicKey: pub, identityFile }, 'deploy key (authorise it on your hosts: see README "SSH key set-up")');
  const ageFile = identityFileOf(config);
  log.info({ recipients: await ensureAgeIdentity(ageFile), identityFile: ageFile }, 'secrets recipient (encrypt *.age files for it: see README "Templates and secrets")');

  const url = config.repo.url ?? (await ensureLocalRepo(config.dataDir, join(PROJECT_ROOT, 'repo-template'), config.repo.branch));
  if (!config.repo.url) log.info({ clone: url }, 'no repo.url configured: using the local config repo');
  // Starts every rsync and ssh, and local git commands: cheaper than forking the server (util/launcher.ts).
  const realLauncher = new Launcher({ dir: runDir(config.dataDir), log });
  // The server's own transport programs, for reading logs of a push (the hosts' rsync is recorded per host).
  void Promise.all([realLauncher.run('rsync', ['--version']), realLauncher.run('ssh', ['-V'])]).then(([r, s]) => {
    log.info({ rsync: r.stdout.split('\n')[0]?.trim() || `not found (exit ${r.exitCode})`, openssh: s.stderr.trim() || `not found (exit ${s.exitCode})` }, 'transport programs');
  }, (err: unknown) => log.warn({ err }, 'could not read the rsync and OpenSSH versions'));
  const repo = new ConfigRepo({ dir: join(config.dataDir, 'repo-cache.git'), url, branch: config.repo.branch, log, launcher: realLauncher });
  try {
    await repo.init();
  } catch (err) {
    log.error({ err }, 'config repo fetch failed at start; the poller will retry');
  }

  const metrics = createMetrics();
  const sshOptions: SshConnectionsOptions = {
    settings: { ...sshCfg, identityFile, knownHostsFile },
    controlDir: controlDir(config.dataDir), reuse: sshCfg.reuse, idleTimeoutSeconds: sshCfg.idleTimeout,
    maxConnections: sshCfg.maxConnections, metrics, log, launcher: realLauncher,
  };
  const { ssh, launcher } = opts.transport?.({ launcher: realLauncher, sshOptions }) ?? { ssh: new SshConnections(sshOptions), launcher: realLauncher };
  await ssh.init();
  const shutdown = new AbortController();
  const events = new InventoryEvents();
  const cmdb = createProvider({ config, db, log });
  for (const f of (await failingUnits(db)).values()) metrics.unitFailing.set({ unit: f.unit }, f.failures);
  // Scheduled duties run on the leader only (README "Leader and schedules"); its first try is done before they start.
  const leader = await startLeader({ dialect: db.dialect, url: config.db.url, node, log, metrics, tryMs: Math.round(config.cluster.leaseSeconds * 1000 / 3) });
  const windows = new SyncWindows({ db, log: log.child({ component: 'sync-windows' }), clock, config: config.syncWindows, leader, node });
  await windows.load();
  // Cluster mode (README "Scale-out"): the store is the queue; hints wake this process's waiters early.
  const cl = config.cluster;
  const hints = new Hints();
  const cluster = node.clustered ? {
    owner: node.id, leaseSeconds: cl.leaseSeconds, dcField: cl.dcField, pollMs: cl.pollMs,
    // New work: wake this process now and the others through the store (a hint: they poll anyway).
    announce: (what: 'deployment' | 'host', dcs?: Array<string | null>) => {
      hints.emit();
      for (const dc of dcs ?? [null]) void announceWork(channel, { kind: what, dc });
    },
    changed: (signal: AbortSignal, ms: number) => hints.wait(signal, ms),
  } : undefined;
  if (cluster) onWork(channel, () => hints.emit());
  const deployer = new Deployer({ config, db, clock, metrics, cmdb, ssh, launcher, repo, log, windows, cluster });
  const live = new LiveBus(1000, clock);
  feedLiveBus(live, { deployer, inventory: events, windows });
  // Several processes share a PostgreSQL store: each one's dashboards see every node's changes (README "PostgreSQL").
  // Only in cluster mode: one process per database otherwise, and the bridge costs a NOTIFY per batch of events.
  const bridge = db.dialect === 'postgres' && node.clustered ? startLiveBridge({ bus: live, channel, node: node.id, log: log.child({ component: 'live-bridge' }) }) : undefined;
  // Another node recorded a host push or a deployment change: a coordinator waiting on its rows looks now.
  if (cluster) live.subscribe((e) => { if (e.remote && (e.type === 'host' || e.type === 'deployment' || e.type === 'resync')) hints.emit(); });
  const ctx: AppContext = { config, log, db, clock, metrics, events, cmdb, ssh, launcher, repo, deployer, windows, live, auth, audit, node, leader, channel, shutdown: shutdown.signal };
  if (config.previews.enabled) ctx.previews = new PreviewService(ctx);

  const modules = opts.modules ?? createModules();
  const app = createApp(ctx, modules);
  const server = await new Promise<Server>((res, rej) => {
    const s = app.listen(config.server.port, config.server.host, () => res(s));
    s.on('error', rej);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  log.info({ host: config.server.host, port }, 'listening');
  const loopback = /^(127\.|::1$|localhost$)/.test(config.server.host);
  if (!loopback && !config.webhook.gitlab.token && !config.webhook.gitlab.signingSecret && !config.webhook.github.secret) {
    log.warn('webhooks accept unauthenticated deliveries: set webhook.gitlab.token or webhook.github.secret');
  }

  await ensureBaseline(ctx);
  await deployer.recover();
  windows.start(deployer); // held work: released now if its windows closed while the server was down, else timed
  await ctx.previews?.recover();
  const reaper = startReaper({ db, deployer, log, clock });
  const executor = node.clustered && node.works ? new HostExecutor({
    deps: { config, db, clock, metrics, ssh, repo, launcher, onChange: (c) => deployer.noteChange(c) },
    owner: node.id, dc: node.dc, leaseSeconds: cl.leaseSeconds, workerCap: cl.workerConcurrency ?? config.deploy.concurrency,
    dcCap: config.deploy.concurrency, log: log.child({ component: 'worker' }), onDone: () => hints.emit(),
  }) : undefined;
  const clusterLoop = node.clustered ? new ClusterLoop({
    db, node, deployer, executor, log: log.child({ component: 'cluster' }), metrics, hints,
    leaseSeconds: cl.leaseSeconds, pollMs: cl.pollMs, workerDeployments: cl.workerDeployments,
    leads: () => leader.isLeader, // the reaper: on the leader only
  }) : undefined;
  if (clusterLoop) {
    // Keys made per data dir differ between processes: a host authorised for one worker's key refuses another's.
    const perDir = [!sshCfg.identityFile && 'deploy.ssh.identityFile', !sshCfg.knownHostsFile && 'deploy.ssh.knownHostsFile', !config.secrets.identityFile && 'secrets.identityFile'].filter(Boolean);
    if (perDir.length) log.warn({ keys: perDir }, 'cluster mode with keys made in this process\'s data dir: point these at files every process shares (README "Scale-out")');
    clusterLoop.start();
    log.info({ node: node.id, role: node.role, dc: node.dc }, 'cluster mode: work is claimed from the store');
  }
  const poller = startPoller(ctx);
  const drift = startDriftSchedule({ ...ctx }, shutdown.signal);
  const warm = sshCfg.reuse && sshCfg.keepWarm
    ? startWarmKeeper({ db, ssh, log, clock, windowSeconds: sshCfg.keepWarmWindow, maxConnections: sshCfg.maxConnections, shellIdleSeconds: ssh.shellIdleSeconds }, shutdown.signal)
    : undefined;
  for (const m of modules) await m.start?.(ctx);

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      log.info('shutting down: no new work; running host pushes may finish');
      shutdown.abort();
      poller.stop();
      drift.stop();
      reaper.stop();
      warm?.stop();
      const closed = new Promise<void>((res) => server.close(() => res()));
      server.closeIdleConnections?.();
      const graceMs = config.server.shutdownGrace * 1000;
      await clusterLoop?.stop(graceMs); // first: running host pushes finish, coordinated deployments are handed over
      await Promise.allSettled([windows.stop(), deployer.stop(graceMs), ctx.previews?.stop(), ...modules.map((m) => m.stop?.())]);
      server.closeAllConnections?.();
      await closed;
      await leader.stop();
      await ssh.closeAll(); // first: the probe shells are the launcher's jobs
      await launcher.close();
      bridge?.stop();
      await channel.close();
      await db.close();
      log.info('stopped');
    })();
    return stopping;
  };
  return { ctx, server, port, poller, modules, stop };
}
