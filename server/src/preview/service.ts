// The preview queue: one waiting preview per merge request (a newer commit replaces it), at most one run per
// merge request in previews.minIntervalSeconds, one run at a time, and only while no deployment is queued or
// running (previews are low priority). Each run ends in the merge request's one comment, created or edited.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { SyncWindows } from '../windows/service.js';
import type { Deployer } from '../deploy/deployer.js';
import type { UnitRunDeps } from '../deploy/unit-run.js';
import * as store from '../db/previews.js';
import { QueueFullError } from '../errors.js';
import { CommentGoneError, upsertComment } from './comment-api.js';
import type { PreviewEvent } from './events.js';
import { renderComment } from './render.js';
import { computePreview, ForeignEventError, type PreviewResult } from './run.js';

export interface AcceptResult { status: 200 | 202; body: { preview?: { source: string; project: string; number: number; head: string }; superseded?: boolean; ignored?: string } }

/** What the service uses (the AppContext has all of it). */
export interface PreviewServiceDeps extends Omit<UnitRunDeps, 'hostSlots'> { log: Logger; deployer: Deployer; windows: Pick<SyncWindows, 'blocked'> }

const keyOf = (e: store.PreviewKey) => `${e.source}:${e.project}!${e.number}`;
const MAX_WAITING = 1000;

export class PreviewService {
  private readonly waiting = new Map<string, PreviewEvent>();
  private readonly lastStarted = new Map<string, number>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly ctx: PreviewServiceDeps) {}

  /** Queue a preview (validated event); ignored when it targets another branch than the deployed one. */
  async accept(e: PreviewEvent): Promise<AcceptResult> {
    const branch = this.ctx.config.repo.branch;
    if (e.targetBranch !== branch) return { status: 200, body: { ignored: `target branch ${e.targetBranch} is not the deployed branch ${branch}` } };
    if (this.abort.signal.aborted) throw new QueueFullError('server is shutting down, not taking previews');
    const key = keyOf(e);
    const superseded = this.waiting.has(key);
    if (!superseded && this.waiting.size >= MAX_WAITING) throw new QueueFullError('preview queue is full, try again later');
    this.waiting.set(key, e);
    await store.requestPreview(this.ctx.db, { ...e, headSha: e.headSha, url: e.url }, this.now());
    this.kick();
    return { status: 202, body: { preview: { source: e.source, project: e.project, number: e.number, head: e.headSha }, superseded } };
  }

  /** At start: previews that were queued or running when the server stopped are queued again. */
  async recover(): Promise<void> {
    for (const r of await store.openPreviews(this.ctx.db)) {
      this.waiting.set(keyOf(r), { source: r.source as PreviewEvent['source'], project: r.project, number: r.number, headSha: r.headSha, targetBranch: this.ctx.config.repo.branch, url: r.url, actor: null });
    }
    if (this.waiting.size) this.kick();
  }

  /** Stop taking previews and wait for the running one (it is aborted: hosts are only read). */
  async stop(): Promise<void> {
    this.abort.abort(new Error('shutting down'));
    this.wake?.();
    await this.loop;
  }

  /** Previews waiting (for tests and metrics). */
  get queued(): number { return this.waiting.size; }

  private now(): string { return this.ctx.clock().toISOString(); }

  private kick(): void {
    this.wake?.();
    this.loop ??= this.runLoop().catch((err: unknown) => this.ctx.log.error({ err }, 'preview loop failed')).finally(() => { this.loop = null; });
  }

  private async runLoop(): Promise<void> {
    const signal = this.abort.signal;
    const intervalMs = this.ctx.config.previews.minIntervalSeconds * 1000;
    while (this.waiting.size && !signal.aborted) {
      let next: [string, PreviewEvent] | undefined;
      let soonest = Infinity;
      for (const [k, e] of this.waiting) {
        const at = (this.lastStarted.get(k) ?? -Infinity) + intervalMs;
        if (at <= Date.now()) { next = [k, e]; break; }
        soonest = Math.min(soonest, at);
      }
      if (!next) {
        // Rate limited: sleep until the first one may run (or a new event arrives).
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(10, soonest - Date.now()));
          this.wake = () => { clearTimeout(timer); resolve(); };
        });
        this.wake = null;
        continue;
      }
      const [key, e] = next;
      this.waiting.delete(key);
      try {
        await this.runOne(key, e, signal);
      } catch (err) {
        if (!signal.aborted) this.ctx.log.error({ err, preview: key }, 'preview failed');
      }
    }
  }

  /** Resolves when no deployment is queued or running; marks the preview waiting meanwhile. */
  private async idle(e: PreviewEvent, signal: AbortSignal): Promise<void> {
    if (!this.ctx.deployer.busy) return;
    await store.setPreviewStatus(this.ctx.db, e, 'waiting', this.now());
    this.ctx.log.info({ preview: keyOf(e) }, 'preview waits for running deployments');
    while (this.ctx.deployer.busy) await sleep(200, undefined, { signal });
    await store.setPreviewStatus(this.ctx.db, e, 'running', this.now());
  }

  private async runOne(key: string, e: PreviewEvent, signal: AbortSignal): Promise<void> {
    const { ctx } = this;
    const log = ctx.log.child({ preview: key });
    const cfg = ctx.config.previews;
    await this.idle(e, signal);
    // A newer commit arrived while this one waited for deployments: it replaces this one.
    if (this.waiting.has(key)) { log.info({ head: e.headSha }, 'preview superseded by a newer commit'); return; }
    this.lastStarted.set(key, Date.now());
    // Logged at the rate limiter's start time, before the store write (slower on PostgreSQL), so the two agree.
    log.info({ head: e.headSha }, 'preview started');
    await store.setPreviewStatus(ctx.db, e, 'running', this.now());
    let result: PreviewResult | undefined;
    let error: string | null = null;
    try {
      result = await computePreview({
        ...ctx, slots: ctx.deployer.slots, maxHostsPerUnit: cfg.maxHostsPerUnit, log,
        windowConflicts: (u) => ctx.windows.blocked([u]).flatMap((b) => b.windows),
        idle: (s) => this.idle(e, s),
      }, e, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      error = (err as Error).message;
      log.warn({ err }, 'preview could not be computed');
      if (err instanceof ForeignEventError) {
        await store.finishPreview(ctx.db, e, { status: 'failed', result: undefined, error, commentId: null }, this.now());
        return;
      }
    }
    const body = renderComment({ result, error: error ?? undefined, headSha: e.headSha }, { maxBytes: cfg.maxCommentBytes, dashboardUrl: cfg.dashboardUrl, branch: ctx.config.repo.branch });
    let commentId: string | null = null;
    try {
      const known = (await store.getPreview(ctx.db, e))?.commentId ?? undefined;
      try {
        commentId = await upsertComment(cfg, e, body, known, log, signal);
      } catch (err) {
        if (!(err instanceof CommentGoneError)) throw err;
        log.warn({ commentId: known }, 'preview comment was deleted: posting a new one');
        commentId = await upsertComment(cfg, e, body, undefined, log, signal);
      }
      // Stored at once: the next run must edit it, whatever happens to this one's record.
      await store.setCommentId(ctx.db, e, commentId);
    } catch (err) {
      if (signal.aborted) throw err;
      error = `${error ? `${error}; ` : ''}comment not posted: ${(err as Error).message}`;
      log.warn({ err }, 'preview comment not posted');
    }
    // A newer head waiting: this row stays queued for it.
    const status = result && !error ? 'done' : 'failed';
    await store.finishPreview(ctx.db, e, { status, result, error, commentId }, this.now());
    if (this.waiting.has(key)) await store.setPreviewStatus(ctx.db, e, 'queued', this.now());
    log.info({ status, units: result?.units.length, commentId }, 'preview finished');
  }
}
