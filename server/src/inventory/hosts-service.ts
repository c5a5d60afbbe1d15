// Changes to the built-in inventory that other modules react to: write in one transaction, then emit.
import { ConflictError, NotFoundError } from '../errors.js';
import type { Db } from '../db/connection.js';
import * as hosts from '../db/hosts.js';
import { isUniqueViolation as uniqueViolation } from '../db/errors.js';
import type { InventoryEvents } from './events.js';

export interface InventoryDeps { db: Db; events: InventoryEvents; clock: () => Date }

function isUniqueViolation(err: unknown): boolean {
  return uniqueViolation(err, 'hosts');
}

/** The writers that are not host-sync sources (hostSync's RESERVED_SOURCE_NAMES; not imported: that pulls in every source type). */
const NOT_SOURCES: ReadonlySet<string> = new Set(['manual', 'api', 'agent', 'agents']);

/** Is this host owned by a host-sync source (which then is the truth for its inventory fields)? */
export function isSourceOwned(host: { source: string }): boolean {
  return !NOT_SOURCES.has(host.source);
}

export async function createHost(deps: InventoryDeps, input: hosts.HostInput, meta: hosts.HostMeta, origin: string): Promise<hosts.Host> {
  let id: number;
  try {
    id = await deps.db.tx((q) => hosts.insertHost(q, input, meta, deps.clock().toISOString()));
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`a host with ip ${input.ip} already exists`);
    throw err;
  }
  const host = (await hosts.getHost(deps.db, id, false))!;
  deps.events.emit('host.added', { host, origin });
  return host;
}

export async function updateHost(deps: InventoryDeps, id: number, input: hosts.HostInput, origin: string): Promise<hosts.Host> {
  const before = await hosts.getHost(deps.db, id, false);
  if (!before) throw new NotFoundError(`host ${id} not found`);
  try {
    await deps.db.tx(async (q) => {
      await hosts.updateHost(q, id, input, {}, deps.clock().toISOString());
      // A hand edit of a host-sync source's host: its stored hash no longer describes the row, so the source's next run
      // sees a difference and restores its values (the source stays the truth for its hosts).
      if (origin === 'api' && before.hash !== null) await q.run('UPDATE hosts SET hash = NULL WHERE id = ?', [id]);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`a host with ip ${input.ip} already exists`);
    throw err;
  }
  const host = (await hosts.getHost(deps.db, id, false))!;
  deps.events.emit('host.changed', { host, origin, previous: { env: before.env, apps: before.apps, ip: before.ip } });
  return host;
}

export async function removeHost(deps: InventoryDeps, id: number, origin: string): Promise<void> {
  const before = await hosts.getHost(deps.db, id, false);
  if (!before || !(await deps.db.tx((q) => hosts.deleteHost(q, id)))) throw new NotFoundError(`host ${id} not found`);
  deps.events.emit('host.removed', { id, ip: before.ip, origin });
}

/** Did this change move the host into units it was not in (so it needs their files)? */
export function unitsChanged(prev: { env: string; apps: string[] } | undefined, host: { env: string; apps: string[] }): boolean {
  if (!prev) return true;
  return prev.env !== host.env || host.apps.some((a) => !prev.apps.includes(a));
}
