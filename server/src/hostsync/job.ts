// One run of one source: list (network, bounded by the source timeout) → map → reconcile and apply in ONE transaction
// → record → emit inventory events after commit. A failed, empty or implausibly smaller listing changes nothing.
import type { Logger } from 'pino';
import type { CmdbProvider } from '../cmdb/provider.js';
import type { Db } from '../db/connection.js';
import * as store from '../db/host-sync.js';
import { getHost } from '../db/hosts.js';
import { AppError } from '../errors.js';
import type { InventoryEvents } from '../inventory/events.js';
import { mapRecord, type HostMapping } from './mapping.js';
import { reconcile, type Candidate, type Plan } from './reconcile.js';
import type { InventorySource } from './source.js';

export interface JobDeps { db: Db; events: InventoryEvents; clock: () => Date; log: Logger; cmdb?: CmdbProvider; shutdown: AbortSignal }

export interface JobSource {
  name: string;
  source: InventorySource;
  mapping: HostMapping;
  timeoutSeconds: number;
  maxDeleteShare: number;
  maxRecordedErrors: number;
  keepRuns: number;
}

export interface RunOptions { trigger: string; force?: boolean }

const zero = (): store.RunCounts => ({ listed: null, skipped: 0, unchanged: 0, toAdd: 0, toModify: 0, toDelete: 0, added: 0, modified: 0, deleted: 0, recordErrors: 0 });

/** Why a plan must not be applied (null = fine). Pure. */
export function refusal(listed: number, localCount: number, plan: Plan, maxDeleteShare: number): string | null {
  if (listed === 0) return localCount > 0 ? `the source returned no hosts; refusing to delete its ${localCount} host(s)` : 'the source returned no hosts';
  if (localCount > 0 && plan.delete.length / localCount > maxDeleteShare) {
    return `the run would delete ${plan.delete.length} of the source's ${localCount} hosts (${Math.round((plan.delete.length / localCount) * 100)}%), over the limit of ${Math.round(maxDeleteShare * 100)}%; run with force=true if this is intended`;
  }
  return null;
}

/** Execute a run already recorded as `runId` (status running) and finish its record. Never throws for upstream failures. */
export async function executeRun(deps: JobDeps, src: JobSource, runId: number, opts: RunOptions): Promise<store.RunView> {
  const { db, clock } = deps;
  const log = deps.log.child({ hostSyncRun: runId, source: src.name });
  const t0 = Date.now();
  const counts = zero();
  const finish = async (status: store.RunStatus, error: string | null, details: Array<{ uid: string; error: string }>) => {
    await store.finishRun(db, runId, status, counts, error, details.slice(0, src.maxRecordedErrors), clock().toISOString(), Date.now() - t0);
    await store.pruneRuns(db, src.name, src.keepRuns);
    const level = status === 'error' || status === 'refused' || status === 'interrupted' ? 'warn' : 'info';
    log[level]({ status, error, ...counts, ms: Date.now() - t0 }, 'host sync run finished');
    return (await store.getRun(db, runId))!;
  };

  // 1. List, outside any transaction.
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error('host sync source timeout')), src.timeoutSeconds * 1000);
  let records;
  try {
    records = await src.source.list(AbortSignal.any([timeout.signal, deps.shutdown]));
  } catch (err) {
    // A stop (SIGINT/SIGTERM) cut the listing off: that is an interrupted run, as a crash is, not a source error.
    if (deps.shutdown.aborted && !timeout.signal.aborted) return finish('interrupted', 'server stopped during the run', []);
    const why = timeout.signal.aborted ? `listing did not finish within ${src.timeoutSeconds} s` : (err as Error).message;
    if (!(err instanceof AppError)) log.error({ err }, 'host sync source failed unexpectedly');
    return finish('error', why, []);
  } finally {
    clearTimeout(timer);
  }
  counts.listed = records.length;

  // 2. Map (pure): usable candidates, deliberate skips, per-record errors (their hosts are kept as they are).
  const candidates: Candidate[] = [];
  const keep: string[] = [];
  const mapErrors: Array<{ uid: string; error: string }> = [];
  let withoutUid = 0;
  for (const rec of records) {
    if (!rec.uid) { withoutUid++; continue; }
    const m = mapRecord(rec, src.mapping);
    if (m.kind === 'host') candidates.push({ uid: m.uid, hash: m.hash, host: m.host });
    else if (m.kind === 'skip') counts.skipped++;
    else { keep.push(m.uid); mapErrors.push({ uid: m.uid, error: m.error }); }
  }
  if (withoutUid) mapErrors.unshift({ uid: '', error: `${withoutUid} record(s) without uid or IP: deletions are skipped in this run` });

  // 3. Plan and apply in one transaction (no network inside): the plan is made against exactly the rows it changes.
  let plan: Plan;
  let refused: string | null = null;
  let applied: store.Applied | undefined;
  try {
    ({ plan, refused, applied } = await db.tx(async (q) => {
      const local = await store.sourceHosts(q, src.name);
      const p = reconcile({ local, records: candidates, keep, foreign: await store.foreignIps(q, src.name), allowDeletes: withoutUid === 0 });
      const why = opts.force ? null : refusal(records.length, local.length, p, src.maxDeleteShare);
      if (why) return { plan: p, refused: why, applied: undefined };
      return { plan: p, refused: null, applied: await store.applyPlan(q, src.name, p, clock().toISOString()) };
    }));
  } catch (err) {
    log.error({ err }, 'host sync apply failed; rolled back');
    return finish('error', `applying the changes failed and was rolled back: ${(err as Error).message}`, mapErrors);
  }
  Object.assign(counts, { unchanged: plan.unchanged, toAdd: plan.add.length, toModify: plan.modify.length, toDelete: plan.delete.length });
  const errors = [...mapErrors, ...plan.errors, ...(applied?.errors ?? [])];
  counts.recordErrors = errors.length - (withoutUid ? 1 : 0) + withoutUid;
  if (refused) return finish('refused', refused, errors);
  counts.added = applied!.added.length;
  counts.modified = applied!.modified.length;
  counts.deleted = applied!.deleted.length;

  // 4. After commit: caches and listeners (new-host converge) see the stored state.
  if (applied!.added.length || applied!.modified.length || applied!.deleted.length) deps.cmdb?.invalidate?.();
  await emitEvents(deps, src.name, applied!);
  return finish(errors.length ? 'partial' : 'succeeded', withoutUid ? mapErrors[0]!.error : null, errors);
}

async function emitEvents(deps: JobDeps, origin: string, a: store.Applied): Promise<void> {
  const { events, db } = deps;
  if (events.listenerCount('host.added')) {
    for (const x of a.added) { const host = await getHost(db, x.id, false); if (host) events.emit('host.added', { host, origin }); }
  }
  if (events.listenerCount('host.changed')) {
    for (const x of a.modified) { const host = await getHost(db, x.id, false); if (host) events.emit('host.changed', { host, origin, previous: x.previous }); }
  }
  for (const x of a.deleted) events.emit('host.removed', { id: x.id, ip: x.ip, origin });
}
