// New-host converge: a host added to the inventory (API, host sync, agent), or moved to another env/apps/IP, gets a
// full sync of its units — to that host alone. Hosts arriving together share one deployment per unit set.
import type { AppContext } from '../context.js';
import { inventoryEnv } from '../deploy/unit-run.js';
import type { Host } from '../db/hosts.js';
import { type Unit, unitKey } from '../gitops/targets.js';
import type { HostChange } from '../inventory/events.js';
import { unitsChanged } from '../inventory/hosts-service.js';

interface Pending { host: Host; previous?: HostChange['previous']; origins: Set<string> }

/** PURE: the units a host should receive — those of its env/apps, minus those it already had before the change. */
export function unitsForHost(units: Unit[], envOf: (repoEnv: string) => string, host: { ip: string; env: string; apps: string[] }, previous?: { env: string; apps: string[]; ip?: string }): Unit[] {
  const of = (h: { env: string; apps: string[] }) => (u: Unit) => envOf(u.env) === h.env && h.apps.includes(u.app);
  const now = units.filter(of(host));
  // Same IP and some units already there: only the new ones. A new IP is a new target: everything.
  if (!previous || (previous.ip !== undefined && previous.ip !== host.ip)) return now;
  const had = of(previous);
  return now.filter((u) => !had(u));
}

export class Converger {
  private readonly pending = new Map<number, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private readonly onAdded = (c: HostChange) => this.queue(c);
  private readonly onChanged = (c: HostChange) => {
    const moved = c.previous?.ip !== undefined && c.previous.ip !== c.host.ip;
    if (moved || unitsChanged(c.previous, c.host)) this.queue(c);
  };

  constructor(private readonly ctx: AppContext, private readonly debounceMs: number) {}

  start(): void {
    this.ctx.events.on('host.added', this.onAdded);
    this.ctx.events.on('host.changed', this.onChanged);
  }

  async stop(): Promise<void> {
    this.ctx.events.off('host.added', this.onAdded);
    this.ctx.events.off('host.changed', this.onChanged);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flushing;
  }

  private queue(c: HostChange): void {
    const p = this.pending.get(c.host.id);
    // A second change before the flush: keep the oldest "previous" (what the host really had) and the newest state.
    this.pending.set(c.host.id, { host: c.host, previous: p ? p.previous : c.previous, origins: new Set([...(p?.origins ?? []), c.origin]) });
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flushing = this.flushing.then(() => this.flush()).catch((err) => this.ctx.log.error({ err }, 'converge: flush failed'));
    }, this.debounceMs);
  }

  /** Submit one sync deployment per distinct unit set, restricted to the hosts that need it. */
  async flush(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending.clear();
    if (!batch.length || this.ctx.shutdown.aborted) return;
    const log = this.ctx.log.child({ converge: true });
    let commit: string | null;
    try {
      commit = await this.ctx.repo.fetch();
    } catch (err) {
      commit = this.ctx.repo.lastKnownHead();
      log.warn({ err, commit }, 'converge: fetch failed, using the last known head');
    }
    if (!commit) { log.error({ hosts: batch.map((p) => p.host.ip) }, 'converge: no commit of the config repo known; hosts not converged'); return; }
    const units = await this.ctx.repo.listUnits(commit);
    const groups = new Map<string, { units: string[]; hosts: string[]; origins: Set<string> }>();
    for (const p of batch) {
      const keys = unitsForHost(units, (e) => inventoryEnv(this.ctx.config, e), p.host, p.previous).map(unitKey).sort();
      if (!keys.length) { log.debug({ host: p.host.ip, env: p.host.env, apps: p.host.apps }, 'converge: no units for host'); continue; }
      const g = groups.get(keys.join(' ')) ?? { units: keys, hosts: [], origins: new Set() };
      g.hosts.push(p.host.ip);
      for (const o of p.origins) g.origins.add(o);
      groups.set(keys.join(' '), g);
    }
    if (groups.size) this.ctx.cmdb.invalidate?.();
    for (const g of groups.values()) {
      try {
        const { id } = await this.ctx.deployer.submit({ kind: 'sync', trigger: 'converge', actor: [...g.origins].sort().join(','), units: g.units, hosts: g.hosts.sort() });
        log.info({ deploymentId: id, units: g.units, hosts: g.hosts }, 'converge: deployment queued');
      } catch (err) {
        log.error({ err, units: g.units, hosts: g.hosts }, 'converge: deployment not queued');
      }
    }
  }
}
