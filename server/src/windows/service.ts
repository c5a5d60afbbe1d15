// Sync windows at run time: the config's and the API's windows compiled, the deployer's hold gate, and the release
// of held units when their windows let them (a timer at the computed time, re-armed at start-up and on every change).
import type { Logger } from 'pino';
import type { Db } from '../db/connection.js';
import { deleteApiWindow, holdUnit, listApiWindows, listHeld, noteReleased, putApiWindow, releaseHeld, type HeldUnit } from '../db/sync-windows.js';
import { upsertDeploymentUnit } from '../db/deployments.js';
import type { Deployer } from '../deploy/deployer.js';
import type { DeployRequest, SyncRequest, Trigger } from '../deploy/types.js';
import type { WindowGate } from '../deploy/window-gate.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { parseUnitKey, type Unit, unitKey } from '../gitops/targets.js';
import type { Leader } from '../cluster/leader.js';
import type { ClusterNode } from '../cluster/node.js';
import { claimFire } from '../db/schedule-fires.js';
import { compileWindows, describeBlock, TimedWindow, unblockedAt, windowsBlocking, type SyncWindowSpec, type Window } from './model.js';

/** Longest sleep of the release timer: held units are re-checked at least this often (clock changes, far-off windows). */
const MAX_WAIT_MS = 3_600_000;
/**
 * Several processes on one PostgreSQL database: units held and API windows put through another node reach the
 * leader's release timer only when it reads them, so it re-reads at least this often.
 */
const SHARED_WAIT_MS = 15_000;

export interface WindowView extends Window { active: boolean; nextOpen: string | null; nextClose: string | null }
export interface Blocked { unit: string; windows: string[]; until: string | null; message: string }
/** held: units held in a deployment; released: they went as deployment `deploymentId`; windows: a window was put or removed. */
export type WindowChange =
  | { change: 'held'; deploymentId: number; units: string[] }
  | { change: 'released'; deploymentId: number; units: string[]; heldIn: number[] }
  | { change: 'windows'; name: string };

/** Another node recorded the release of one of these holds first. */
class ReleasedElsewhere extends Error {}

export class SyncWindows implements WindowGate {
  private compiled: TimedWindow[];
  private readonly fromConfig: TimedWindow[];
  private deployer: Deployer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly listeners = new Set<(c: WindowChange) => void>();

  /** Held work or the windows changed (the live stream's `window` events); a throwing listener is its own problem. */
  onChange(l: (c: WindowChange) => void): void {
    this.listeners.add(l);
  }

  private changed(c: WindowChange): void {
    for (const l of this.listeners) {
      try { l(c); } catch { /* not the window service's failure */ }
    }
  }

  /** leader: releases are a scheduled duty, done by the leader only (absent: always, as on a single process). */
  constructor(private readonly deps: { db: Db; log: Logger; clock: () => Date; config: SyncWindowSpec[]; leader?: Leader; node?: ClusterNode }) {
    this.fromConfig = compileWindows(deps.config.map((w) => ({ ...w, source: 'config' as const })));
    this.compiled = this.fromConfig;
    // A new leader releases what is due at once and arms its timer, as at start.
    deps.leader?.onChange((leading) => { if (leading) this.kick(0); });
  }

  /** Read the API's windows (a stored one that no longer compiles is logged and left out, not fatal). */
  async load(): Promise<void> {
    const api: TimedWindow[] = [];
    for (const spec of await listApiWindows(this.deps.db)) {
      if (this.fromConfig.some((w) => w.spec.name === spec.name)) {
        // The config file took the name since: the file wins, the stored window stays until deleted or renamed there.
        this.deps.log.warn({ window: spec.name }, 'API sync window shadowed by a config window of the same name: ignored');
        continue;
      }
      try {
        api.push(new TimedWindow({ ...spec, source: 'api' }));
      } catch (err) {
        this.deps.log.error({ err, window: spec.name }, 'stored sync window is not valid: ignored');
      }
    }
    this.compiled = [...this.fromConfig, ...api];
  }

  /** Every window with its state at `at`. */
  list(at = this.deps.clock()): WindowView[] {
    return this.compiled.map((w) => {
      const st = w.state(at);
      return { ...w.spec, active: st.active, nextOpen: st.nextOpen?.toISOString() ?? null, nextClose: st.nextClose?.toISOString() ?? null };
    });
  }

  /** The compiled windows (for previews: windowsBlocking(ctx.windows.all(), unit, at)). */
  all(): TimedWindow[] {
    return this.compiled;
  }

  /** Why units may not sync now (empty: all may); manual syncs pass windows with manualSync. */
  blocked(units: Unit[], opts: { manual?: boolean; at?: Date } = {}): Blocked[] {
    const at = opts.at ?? this.deps.clock();
    const out: Blocked[] = [];
    for (const u of units) {
      const b = windowsBlocking(this.compiled, u, at, opts);
      if (!b.length) continue;
      const until = unblockedAt(this.compiled, u, at);
      out.push({ unit: unitKey(u), windows: b.map((w) => w.spec.name), until: until?.toISOString() ?? null, message: `${unitKey(u)}: ${describeBlock(b, until)}` });
    }
    return out;
  }

  async hold(deploymentId: number, req: DeployRequest, units: Unit[], commit: string): Promise<Map<string, string>> {
    const blocked = this.blocked(units);
    const out = new Map(blocked.map((b) => [b.unit, `held by a sync window: ${b.message.slice(b.unit.length + 2)}; runs then as a deployment of its own`]));
    if (!out.size) return out;
    const sync = req.kind === 'sync' ? req : undefined;
    const now = this.deps.clock().toISOString();
    await this.deps.db.tx(async (q) => {
      for (const [unit, reason] of out) {
        await holdUnit(q, { unit, commit: sync?.commit ?? null, hosts: sync?.hosts ?? null, trigger: req.trigger, deploymentId, reason }, now);
        await upsertDeploymentUnit(q, deploymentId, { unit, commit, status: 'held', reason }, now);
      }
    });
    this.deps.log.info({ deploymentId, held: blocked.map((b) => ({ unit: b.unit, windows: b.windows, until: b.until })) }, 'units held by a sync window');
    this.changed({ change: 'held', deploymentId, units: [...out.keys()] });
    this.kick(0);
    return out;
  }

  /** Held work waiting for its windows. */
  held(): Promise<HeldUnit[]> {
    return listHeld(this.deps.db);
  }

  /** Create or replace an API window (a config window's name is refused). True when new. */
  async put(spec: SyncWindowSpec, actor: string | null): Promise<boolean> {
    if (this.fromConfig.some((w) => w.spec.name === spec.name)) throw new ConflictError(`sync window ${JSON.stringify(spec.name)} is defined in the config file: change it there`);
    new TimedWindow({ ...spec, source: 'api' }); // validated by the schema already: a throw here is a bug, not a 400
    const created = await putApiWindow(this.deps.db, spec, actor, this.deps.clock().toISOString());
    await this.load();
    this.changed({ change: 'windows', name: spec.name });
    this.kick(0);
    return created;
  }

  async remove(name: string): Promise<void> {
    if (this.fromConfig.some((w) => w.spec.name === name)) throw new ConflictError(`sync window ${JSON.stringify(name)} is defined in the config file: remove it there`);
    if (!(await deleteApiWindow(this.deps.db, name))) throw new NotFoundError(`no sync window ${JSON.stringify(name)}`);
    await this.load();
    this.changed({ change: 'windows', name });
    this.kick(0); // units it held may go now
  }

  /** Start releasing held work (at once for what is due: a restart during a window keeps it, one after releases it). */
  start(deployer: Deployer): void {
    this.deployer = deployer;
    this.kick(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.chain;
  }

  private kick(delayMs: number): void {
    if (this.stopped || !this.deployer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.chain = this.chain.then(() => this.tick()).catch((err: unknown) => {
        this.deps.log.error({ err }, 'sync windows: release failed');
        this.kick(60_000);
      });
    }, delayMs);
    this.timer.unref();
  }

  /** Release what may sync now; arm the timer for the next unit that may. */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    const shared = this.deps.db.dialect !== 'sqlite';
    if (shared) await this.load(); // windows put or removed through another node (every node: they decide holds)
    if (!(this.deps.leader?.isLeader ?? true)) {
      if (shared) this.kick(SHARED_WAIT_MS);
      return;
    }
    const now = this.deps.clock();
    const rows = await listHeld(this.deps.db);
    const due = rows.filter((r) => { const u = parseUnitKey(r.unit); return !u || windowsBlocking(this.compiled, u, now).length === 0; });
    const groups = new Map<string, HeldUnit[]>();
    for (const r of due) {
      const k = JSON.stringify([r.trigger, r.commit, r.hosts]);
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    for (const g of groups.values()) await this.release(g);
    const waiting = rows.filter((r) => !due.includes(r));
    if (!waiting.length && !shared) return;
    let next = now.getTime() + (shared ? SHARED_WAIT_MS : MAX_WAIT_MS);
    for (const r of waiting) {
      const t = unblockedAt(this.compiled, parseUnitKey(r.unit)!, now);
      if (t) next = Math.min(next, t.getTime());
    }
    this.kick(Math.max(0, next - this.deps.clock().getTime()));
  }

  /** One sync deployment for held units of one kind; the holds go in its transaction (a refused submit keeps them). */
  private async release(rows: HeldUnit[]): Promise<void> {
    const first = rows[0]!;
    const ids = [...new Set(rows.flatMap((r) => r.deploymentIds))].sort((a, b) => a - b);
    const req: SyncRequest = {
      kind: 'sync', trigger: first.trigger as Trigger, actor: `sync window release (held in #${ids.join(', #')})`.slice(0, 100),
      units: rows.map((r) => r.unit).sort(), releaseOf: ids, ...(first.commit ? { commit: first.commit } : {}), ...(first.hosts ? { hosts: first.hosts } : {}),
    };
    try {
      const s = await this.deployer!.submitIf(req, {
        // Fire-once: a hold is released once (unit + commit + the hold's instant), also when two nodes both
        // believed they led; the claim is in the same transaction as the release, so a refused submit keeps neither.
        // A claim found taken throws, so that the claims made before it roll back with the rest.
        admit: async (q) => {
          for (const r of rows) {
            if (!(await claimFire(q, `window-release:${r.unit}:${r.commit ?? ''}`, r.updatedAt, this.deps.node?.id ?? 'local', this.deps.clock().toISOString()))) throw new ReleasedElsewhere();
          }
          return null;
        },
        link: async (q, s) => {
          await releaseHeld(q, rows);
          await noteReleased(q, rows, s.id);
        },
      });
      if ('refused' in s) return;
      this.deps.log.info({ deploymentId: s.id, units: req.units, heldIn: ids }, 'held units released: sync windows let them');
      this.changed({ change: 'released', deploymentId: s.id, units: req.units!, heldIn: ids });
    } catch (err) {
      if (err instanceof ReleasedElsewhere) {
        this.deps.log.info({ units: req.units, heldIn: ids }, 'held units released by another node already');
        return;
      }
      this.deps.log.warn({ err, units: req.units }, 'held units not released yet');
      this.kick(30_000);
    }
  }
}
