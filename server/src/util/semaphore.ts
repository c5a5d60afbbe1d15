// A counting semaphore (the server-wide cap on concurrent host pushes, SSH touches, agent collections) and a
// keyed lock (one run per unit at a time).
// Why not p-limit (already a dependency) or the runtime: p-limit can only drop its whole queue (clearQueue);
// here a task waiting for a slot leaves the queue when *its own* AbortSignal fires (one deployment aborted,
// the others keep their places) and rejects with that signal's reason, which the deployer records. p-limit has
// no per-key serialisation either, and Node 26 has no async semaphore or lock (Atomics work on shared memory,
// not on promises). Both classes are ~60 lines with their own tests (test/unit/semaphore.test.ts).
export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(readonly capacity: number) {}

  get running(): number { return this.active; }
  get waiting(): number { return this.waiters.length; }

  /** Run fn when a slot is free; rejects with the signal's reason if aborted while waiting. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.capacity) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        this.active++;
        resolve();
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  private release(): void {
    this.active--;
    const next = this.waiters.shift();
    if (next) next();
  }
}

/** One promise chain per key: work for the same key runs one at a time, in order. */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  isBusy(key: string): boolean {
    return this.tails.has(key);
  }
}
