// Wake-up hints inside one process: "work may be waiting" / "a row changed". Waiters also poll, so a lost hint
// costs a poll interval, never correctness. Across processes the store's notifications feed emit().
import { sleep } from '../util/sleep.js';

export class Hints {
  private readonly waiters = new Set<() => void>();

  emit(): void {
    const all = [...this.waiters];
    this.waiters.clear();
    for (const w of all) w();
  }

  /** Call cb at the next hint; returns a function that unregisters it. */
  once(cb: () => void): () => void {
    this.waiters.add(cb);
    return () => this.waiters.delete(cb);
  }

  /** Sleep until a hint, ms, or the signal (whichever first). */
  async wait(signal: AbortSignal, ms: number): Promise<void> {
    const ctrl = new AbortController();
    const off = this.once(() => ctrl.abort());
    const stop = () => ctrl.abort();
    signal.addEventListener('abort', stop, { once: true });
    try {
      await sleep(ms, ctrl.signal);
    } finally {
      off();
      signal.removeEventListener('abort', stop);
    }
  }
}
