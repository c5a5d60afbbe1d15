// Can the data dir be written? A small file written, synced and removed (a full disk fails the write or the sync),
// at most once a second however often health is asked.
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface DataDirState { writable: boolean; reason?: string }

const PROBE_BYTES = 4096;
const CACHE_MS = 1000;

export class DataDirProbe {
  private last: { at: number; state: Promise<DataDirState> } | undefined;

  constructor(private readonly dir: string) {}

  check(): Promise<DataDirState> {
    if (this.last && Date.now() - this.last.at < CACHE_MS) return this.last.state;
    const state = this.probe();
    this.last = { at: Date.now(), state };
    return state;
  }

  private async probe(): Promise<DataDirState> {
    // A new file each time: rewriting one in place needs no new blocks, so it would pass on a full disk.
    const file = join(this.dir, `.write-probe-${process.pid}`);
    try {
      const fh = await open(file, 'w', 0o600);
      try {
        await fh.write(Buffer.alloc(PROBE_BYTES));
        await fh.sync();
      } finally {
        await fh.close();
      }
      return { writable: true };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return { writable: false, reason: `data dir ${this.dir} cannot be written: ${e.code === 'ENOSPC' ? 'no space left on device' : e.code ?? e.message}` };
    } finally {
      await rm(file, { force: true }).catch(() => undefined);
    }
  }
}
