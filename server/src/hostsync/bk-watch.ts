// Following BlueKing resource_watch for host and host_relation: a relevant event triggers the source's (incremental)
// sync at once; cursors are persisted; an expired cursor (1103007) takes a new cursor from now, then a full listing.
import type { BkCmdbClient, BkWatchEvent } from '../cmdb/bkcmdb-client.js';
import type { FollowOptions } from './source.js';
import { sleep } from '../util/sleep.js';

export interface BkFollowSettings { bizId: number; backoffMs?: number; maxBackoffMs?: number }

const HOST_FIELDS = ['bk_host_id', 'bk_host_innerip', 'bk_host_name'];

/** Does this event change which hosts the business has, or a host we hold? */
async function relevant(e: BkWatchEvent, s: BkFollowSettings, o: FollowOptions): Promise<boolean> {
  if (!e.type || !e.detail) return false;
  if (e.resource === 'host_relation') return Number(e.detail.bk_biz_id) === s.bizId;
  const id = e.detail.bk_host_id;
  return id !== undefined && id !== null && (await o.knownUid(String(id)));
}

/** One feed (host or host_relation) until aborted. */
async function followResource(client: BkCmdbClient, resource: 'host' | 'host_relation', s: BkFollowSettings, o: FollowOptions): Promise<void> {
  const base = s.backoffMs ?? 2000;
  let backoff = base;
  const fields = resource === 'host' ? HOST_FIELDS : undefined;
  while (!o.signal.aborted) {
    try {
      const cursor = await o.getCursor(resource);
      const res = await client.watch(resource, { cursor: cursor ?? undefined, fields }, o.signal);
      if (res.expired) {
        o.log.warn({ resource }, 'bkcmdb watch cursor expired: a new cursor from now, then a full listing');
        // The new starting point first, then the listing: an event that lands between the two is read again
        // after the listing (a sync is idempotent), never lost. The old way round (list, then watch from now)
        // lost it. That watch may wait for its long-poll timeout when nothing happens.
        const head = await client.watch(resource, { fields }, o.signal);
        const from = head.expired ? undefined : head.events.at(-1)?.cursor;
        if (!(await o.changed(`${resource} watch cursor expired`))) throw new Error('full sync after cursor expiry did not succeed');
        await o.setCursor(resource, from ?? null); // kept until the listing succeeded: a failure retries all of it
        backoff = base;
        continue;
      }
      const last = res.events.at(-1)?.cursor;
      let due = false;
      for (const e of res.events) if (await relevant(e, s, o)) { due = true; break; }
      if (due) {
        o.log.info({ resource, events: res.events.length }, 'bkcmdb change event: syncing now');
        // Keep the old cursor when the sync fails: the same events are read again after the backoff.
        if (!(await o.changed(`${resource} event`))) throw new Error('sync after change event did not succeed');
      }
      if (last && last !== cursor) await o.setCursor(resource, last);
      backoff = base;
    } catch (err) {
      if (o.signal.aborted) return;
      o.log.warn({ err, resource, retryInMs: backoff }, 'bkcmdb watch failed');
      await sleep(backoff, o.signal);
      backoff = Math.min(backoff * 2, s.maxBackoffMs ?? 60_000);
    }
  }
}

/** Follow both feeds until the signal aborts. */
export async function followBkCmdb(client: BkCmdbClient, s: BkFollowSettings, o: FollowOptions): Promise<void> {
  await Promise.all([followResource(client, 'host_relation', s, o), followResource(client, 'host', s, o)]);
}
