// Deployment-end notifications: a 'finished' listener that starts deliveries in the background (never awaited by the
// deployer), bounded per target, drained briefly at shutdown.
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { DeploymentView } from '../deploy/types.js';
import type { NotificationsConfig } from './config-schema.js';
import { deliver, type DeliveryResult } from './sender.js';
import { renderPayload, wants } from './templates.js';

export interface NotifierDeps { config: NotificationsConfig; log: Logger; registry?: Registry }

export class Notifier {
  private readonly pending = new Map<string, number>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly stopper = new AbortController();
  private readonly sent?: Counter<'target' | 'result'>;

  constructor(private readonly deps: NotifierDeps) {
    if (deps.registry) {
      this.sent = new Counter({ name: 'gitfleet_notifications_total', help: 'Deployment notifications by target and result (sent, failed, dropped)', labelNames: ['target', 'result'], registers: [deps.registry] });
    }
  }

  /** The 'finished' listener: synchronous, never throws, returns at once. */
  readonly onFinished = (d: DeploymentView): void => {
    for (const [name, target] of Object.entries(this.deps.config.targets)) {
      try {
        if (!wants(target.on, d) || this.stopper.signal.aborted) continue;
        const n = this.pending.get(name) ?? 0;
        if (n >= this.deps.config.maxPending) {
          this.deps.log.error({ target: name, deploymentId: d.id, pending: n }, 'notification dropped: too many pending for this target');
          this.sent?.inc({ target: name, result: 'dropped' });
          continue;
        }
        this.pending.set(name, n + 1);
        const payload = renderPayload(target.format, d, this.deps.config.publicUrl);
        this.track(deliver(name, target, payload, { signal: this.stopper.signal, log: this.deps.log })
          .then((r) => this.done(name, d, r))
          .catch((err) => this.deps.log.error({ err, target: name }, 'notification failed unexpectedly'))
          .finally(() => this.pending.set(name, (this.pending.get(name) ?? 1) - 1)));
      } catch (err) {
        this.deps.log.error({ err, target: name, deploymentId: d.id }, 'notification could not be prepared');
      }
    }
  };

  /** Deliveries started and not finished yet. */
  get busy(): number {
    return this.inFlight.size;
  }

  /** Let running deliveries finish for up to graceMs, then abort them (no retry after that). */
  async stop(graceMs: number): Promise<void> {
    const timer = setTimeout(() => this.stopper.abort(new Error('shutting down')), graceMs);
    await Promise.allSettled([...this.inFlight]);
    clearTimeout(timer);
    this.stopper.abort(new Error('stopped'));
  }

  private done(name: string, d: DeploymentView, r: DeliveryResult): void {
    this.sent?.inc({ target: name, result: r.ok ? 'sent' : 'failed' });
    if (r.ok) this.deps.log.info({ target: name, deploymentId: d.id, status: d.status, attempts: r.attempts }, 'notification sent');
    else this.deps.log.error({ target: name, deploymentId: d.id, attempts: r.attempts, httpStatus: r.status, error: r.error }, 'notification gave up');
  }

  private track(p: Promise<unknown>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}
