// deploy.ssh.keepWarm: keep master connections open to the hosts of recently deployed units, so the next push is warm.
import type { Logger } from 'pino';
import type { Db } from '../db/connection.js';
import { Semaphore } from '../util/semaphore.js';
import type { SshConnections } from './connections.js';

export interface WarmKeeperDeps { db: Db; ssh: SshConnections; log: Logger; clock: () => Date; windowSeconds: number; maxConnections: number; shellIdleSeconds: number }

/** Hosts (with SSH overrides from the built-in inventory) that received a unit within the window, most recent first. */
export async function recentHosts(d: WarmKeeperDeps): Promise<Array<{ ip: string; port: number | null; user: string | null }>> {
  const since = new Date(d.clock().getTime() - d.windowSeconds * 1000).toISOString();
  return d.db.all(
    `SELECT u.ip AS ip, h.port AS port, h.user AS user, max(u.deployed_at) AS last FROM unit_hosts u LEFT JOIN hosts h ON h.ip = u.ip
     WHERE u.deployed_at >= ? GROUP BY u.ip ORDER BY last DESC LIMIT ?`, [since, d.maxConnections]);
}

export function startWarmKeeper(d: WarmKeeperDeps, signal: AbortSignal): { stop(): void; tick(): Promise<number> } {
  const slots = new Semaphore(4);
  let running: Promise<number> | null = null;
  const tick = (): Promise<number> => {
    running ??= (async () => {
      const hosts = await recentHosts(d);
      const ok = await Promise.all(hosts.map((h) => slots.run(() => d.ssh.touch(h, signal), signal).catch(() => false)));
      d.log.debug({ hosts: hosts.length, warm: ok.filter(Boolean).length }, 'kept connections warm');
      return ok.filter(Boolean).length;
    })().finally(() => { running = null; });
    return running;
  };
  // More often than the probe shells' idle timeout, so the kept hosts' shells (and with them the masters) stay open.
  const timer = setInterval(() => void tick(), Math.max(1, Math.floor(d.shellIdleSeconds / 2)) * 1000);
  timer.unref();
  void tick(); // pre-warm at start
  return { stop: () => clearInterval(timer), tick };
}
