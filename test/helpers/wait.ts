// Waiting in tests for something another process does: poll until it is there, or fail naming what was awaited.
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll fn every 100 ms (its errors count as "not yet") until it returns a value; throws after timeoutMs. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
