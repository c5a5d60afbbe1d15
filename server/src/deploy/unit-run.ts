// One unit of a deployment: ask the CMDB for hosts, stage the unit at the commit, fan out under the server-wide cap, record.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import * as rec from '../db/deployments.js';
import type { CmdbProvider, TargetHost } from '../cmdb/provider.js';
import type { ConfigRepo } from '../gitops/repo.js';
import { type Unit, unitKey } from '../gitops/targets.js';
import type { Metrics } from '../metrics.js';
import type { SshConnections } from '../ssh/connections.js';
import type { Semaphore } from '../util/semaphore.js';
import { pushHost } from './host-push.js';
import { planFileList, toNulList } from './staging.js';
import type { HostPushStatus, UnitStatus } from './types.js';

export interface UnitRunDeps {
  config: Config; db: Db; clock: () => Date; metrics: Metrics; cmdb: CmdbProvider; ssh: SshConnections; repo: ConfigRepo;
  hostSlots: Semaphore;
}

export interface UnitRunInput {
  deploymentId: number;
  unit: Unit;
  commit: string;
  /** Only these IPs (converge of a new host). */
  onlyHosts?: string[];
  /** Stops new host pushes from starting (shutdown drain). */
  drain: AbortSignal;
  /** Kills running pushes (shutdown grace exceeded). */
  kill: AbortSignal;
  log: Logger;
}

export interface UnitOutcome { status: UnitStatus; hosts: Array<{ ip: string; status: HostPushStatus }>; interrupted: boolean }

const CMDB_TIMEOUT_MS = 30_000;

/** The inventory env for a repo env (env aliases apply to the lookup, not to the source path). */
export const inventoryEnv = (config: Config, env: string): string => config.inventory.envAliases[env] ?? env;

async function resolveTargets(deps: UnitRunDeps, unit: Unit, onlyHosts?: string[]): Promise<TargetHost[]> {
  const signal = AbortSignal.timeout(CMDB_TIMEOUT_MS);
  const found = await deps.cmdb.resolveHosts({ env: inventoryEnv(deps.config, unit.env), app: unit.app }, signal);
  const byIp = new Map(found.map((h) => [h.ip, h]));
  const all = [...byIp.values()].sort((a, b) => a.ip.localeCompare(b.ip));
  return onlyHosts ? all.filter((h) => onlyHosts.includes(h.ip)) : all;
}

export async function runUnit(deps: UnitRunDeps, input: UnitRunInput): Promise<UnitOutcome> {
  const { db, clock } = deps;
  const key = unitKey(input.unit);
  const log = input.log.child({ unit: key });
  const now = () => clock().toISOString();
  const finish = async (status: UnitStatus, reason: string | null, hostCount = 0) => {
    await rec.upsertDeploymentUnit(db, input.deploymentId, { unit: key, commit: input.commit, status, reason, hostCount }, now());
  };
  await finish('running', null);

  let targets: TargetHost[];
  try {
    targets = await resolveTargets(deps, input.unit, input.onlyHosts);
  } catch (err) {
    const reason = `inventory lookup failed: ${(err as Error).message}`;
    log.warn({ err }, 'inventory lookup failed');
    await finish('failed', reason);
    return { status: 'failed', hosts: [], interrupted: false };
  }
  if (targets.length === 0) {
    await finish('no_hosts', `no hosts in the inventory for env ${inventoryEnv(deps.config, input.unit.env)}, app ${input.unit.app}`);
    return { status: 'no_hosts', hosts: [], interrupted: false };
  }
  await finish('running', null, targets.length);

  const stageDir = join(deps.config.dataDir, 'staging', `${input.deploymentId}-${key.replaceAll('/', '~')}`);
  await rm(stageDir, { recursive: true, force: true });
  await mkdir(stageDir, { recursive: true });
  try {
    const [current, known] = await Promise.all([deps.repo.listUnitFiles(input.commit, input.unit), rec.hostCommits(db, key)]);
    // A unit removed whole from git still runs: its files are deleted on the hosts.
    if (current.length) await deps.repo.exportUnit(input.commit, input.unit, stageDir);
    const unitDir = join(stageDir, key);
    await mkdir(unitDir, { recursive: true });

    // Group hosts by the commit they last received: each group gets its own removal list.
    const listFiles = new Map<string, string>();
    const listFor = async (base: string | undefined): Promise<string> => {
      const k = base ?? '-';
      let path = listFiles.get(k);
      if (path) return path;
      const previous = base && base !== input.commit && (await deps.repo.hasCommit(base)) ? await deps.repo.listUnitFiles(base, input.unit) : undefined;
      const plan = planFileList(current, previous);
      for (const dir of plan.parentsToCreate) await mkdir(join(unitDir, dir), { recursive: true });
      path = join(stageDir, `files-${listFiles.size}.list`);
      await writeFile(path, toNulList(plan.list));
      listFiles.set(k, path);
      return path;
    };

    const owners = deps.config.deploy.units[key] ?? {};
    const owner = owners.owner ?? deps.config.deploy.owner;
    const group = owners.group ?? deps.config.deploy.group;
    const ids = await rec.insertHostPushes(db, input.deploymentId, key, targets);
    const rows = new Map(targets.map((t, i) => [t.ip, ids[i]!]));

    let interrupted = false;
    const results = await Promise.all(targets.map(async (t) => {
      const rowId = rows.get(t.ip)!;
      const hlog = log.child({ host: t.ip });
      try {
        return await deps.hostSlots.run(async () => {
          await rec.startHostPush(db, rowId, now());
          const res = await pushHost({
            ssh: deps.ssh, target: t, log: hlog, signal: input.kill,
            plan: { sourceDir: unitDir, fileList: await listFor(known.get(t.ip)), owner, group, ioTimeoutSeconds: Math.min(deps.config.deploy.hostTimeout, 60) },
            timeoutSeconds: deps.config.deploy.hostTimeout, retries: deps.config.deploy.retries, backoffSeconds: deps.config.deploy.retryBackoff,
          });
          await rec.finishHostPush(db, rowId, res, now());
          if (res.status === 'succeeded') await rec.setHostCommit(db, key, t.ip, input.commit, input.deploymentId, now());
          if (res.status === 'aborted') interrupted = true;
          deps.metrics.hostPushes.inc({ status: res.status });
          deps.metrics.pushDuration.observe({ status: res.status }, res.durationMs / 1000);
          hlog.info({ status: res.status, reason: res.reason, changes: res.changes.length, attempts: res.attempts, ms: res.durationMs }, 'host push finished');
          return { ip: t.ip, status: res.status };
        }, input.drain);
      } catch {
        // Never started: the server is draining. The deployment is re-run at the next start.
        interrupted = true;
        await rec.finishHostPush(db, rowId, { status: 'aborted', exitCode: null, reason: 'not started: the server was shutting down', changes: [], stderrTail: null, attempts: 0, durationMs: 0 }, now());
        return { ip: t.ip, status: 'aborted' as const };
      }
    }));

    const ok = results.filter((r) => r.status === 'succeeded').length;
    const status: UnitStatus = ok === results.length ? 'succeeded' : ok === 0 ? 'failed' : 'partial';
    if (status === 'succeeded') await rec.setUnitState(db, key, input.commit, input.deploymentId, now());
    await finish(status, status === 'succeeded' ? null : `${results.length - ok} of ${results.length} hosts failed`, targets.length);
    return { status, hosts: results, interrupted };
  } finally {
    await rm(stageDir, { recursive: true, force: true });
  }
}
