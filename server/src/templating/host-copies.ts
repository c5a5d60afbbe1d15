// The staged copies of a templated unit, one per distinct render: hard links of the shared export plus the
// host's rendered files, keyed by the SHA-256 of what was rendered (hosts that render identically share one).
// A copy no push uses is kept for reuse, up to IDLE_KEEP of them; older ones are deleted, so disk stays
// bounded by the pushes running plus IDLE_KEEP copies.
import { createHash } from 'node:crypto';
import { chmodSync, linkSync, lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Expected } from '../deploy/probe.js';

export const IDLE_KEEP = 16;

export interface HostStage {
  /** The directory rsync and the probe read for this host (mirrors the host's /). */
  dir: string;
  /** SHA-256 of the rendered files (hosts with the same one share `dir`); '' for the shared export. */
  renderHash: string;
  /** What each entry must be on the host, for the probe (computed once per copy and entry list). */
  expected(entries: string[]): Promise<Map<string, Expected>>;
  /** Done with this copy (it may be deleted once no push uses it). */
  release(): void;
}

export interface RenderedFile { hostPath: string; mode: number; out: Buffer }

interface Copy { dir: string; users: number; ready: Promise<void>; rendered: Map<string, Expected>; expected: WeakMap<string[], Promise<Map<string, Expected>>> }

/** PURE: the key of a render (path, mode and bytes of every rendered file, in template order). */
export function renderHash(files: RenderedFile[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(f.hostPath).update('\0').update(String(f.mode)).update('\0').update(String(f.out.length)).update('\0').update(f.out);
  return h.digest('hex');
}

/**
 * `plain`: the export's host paths that every copy links; `rendered`: the host paths templates render to.
 * `baseExpected` gives the probe's expectations of the shared export (hashed once per entry list).
 */
export function createCopyStore(o: { unitDir: string; copiesDir: string; plain: string[]; rendered: string[]; baseExpected(entries: string[]): Promise<Map<string, Expected>> }) {
  const copies = new Map<string, Copy>();
  const idle: string[] = [];
  let reused = 0; let made = 0;

  // The shared export's entries, read once: which are links (copied as links) and which directories a copy needs.
  let layout: { files: string[]; links: Array<[string, string]>; dirs: string[] } | undefined;
  const layoutOf = () => {
    if (layout) return layout;
    const l = { files: [] as string[], links: [] as Array<[string, string]>, dirs: [] as string[] };
    const dirs = new Set<string>();
    for (const p of [...o.plain, ...o.rendered]) dirs.add(dirname(p));
    for (const p of o.plain) {
      const st = lstatSync(join(o.unitDir, p), { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isSymbolicLink()) l.links.push([p, readlinkSync(join(o.unitDir, p))]);
      else l.files.push(p);
    }
    l.dirs = [...dirs].sort();
    return (layout = l);
  };
  // Synchronous calls in slices (yielding between them): awaiting each of ~200 link() calls cost 3× the time.
  const makeCopy = async (dir: string, files: RenderedFile[]) => {
    const l = layoutOf();
    for (const d of l.dirs) mkdirSync(join(dir, d), { recursive: true });
    for (const [i, f] of l.files.entries()) {
      if (i % 64 === 63) await new Promise((r) => setImmediate(r));
      linkSync(join(o.unitDir, f), join(dir, f));
    }
    for (const [f, target] of l.links) symlinkSync(target, join(dir, f));
    for (const f of files) {
      const to = join(dir, f.hostPath);
      writeFileSync(to, f.out, { mode: f.mode });
      chmodSync(to, f.mode);
    }
  };

  return {
    stats: () => ({ copies: made, reused }),
    /** The copy for this render (made now, or shared with hosts that rendered the same). */
    async acquire(files: RenderedFile[]): Promise<HostStage> {
      const hash = renderHash(files);
      let c = copies.get(hash);
      if (c) {
        reused++;
        const at = idle.indexOf(hash);
        if (at >= 0) idle.splice(at, 1);
      } else {
        const dir = join(o.copiesDir, hash.slice(0, 24));
        const rendered = new Map<string, Expected>(files.map((f) => [f.hostPath, { kind: 'file', mode: f.mode, size: f.out.length, md5: createHash('md5').update(f.out).digest('hex') }]));
        c = { dir, users: 0, ready: makeCopy(dir, files), rendered, expected: new WeakMap() };
        copies.set(hash, c);
        made++;
      }
      c.users++;
      const copy = c;
      try {
        await copy.ready;
      } catch (err) {
        copy.users--;
        copies.delete(hash);
        await rm(copy.dir, { recursive: true, force: true });
        throw err;
      }
      let released = false;
      return {
        dir: copy.dir, renderHash: hash,
        expected: (entries) => {
          let e = copy.expected.get(entries);
          if (!e) {
            copy.expected.set(entries, e = o.baseExpected(entries).then((base) => {
              const out = new Map(base);
              for (const [p, x] of copy.rendered) if (out.has(p)) out.set(p, x);
              return out;
            }));
          }
          return e;
        },
        release: () => {
          if (released) return;
          released = true;
          if (--copy.users > 0) return;
          idle.push(hash);
          while (idle.length > IDLE_KEEP) {
            const old = idle.shift()!;
            const gone = copies.get(old);
            copies.delete(old);
            if (gone) rmSync(gone.dir, { recursive: true, force: true });
          }
        },
      };
    },
  };
}
