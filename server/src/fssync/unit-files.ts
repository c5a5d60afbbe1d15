// Reading a unit's files from the config repo: listings with size, mode and sha256, and single files by path.
import { createHash } from 'node:crypto';
import type { AppContext } from '../context.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { TreeEntry } from '../gitops/repo.js';
import { unitKey, type Unit } from '../gitops/targets.js';

export interface UnitFile {
  /** Path on the host, relative to "/" ("etc/nginx/nginx.conf"). */
  path: string;
  /** Path in the config repo ("nginx/prod/shop/etc/nginx/nginx.conf"). */
  repoPath: string;
  type: 'file' | 'symlink';
  /** Permission bits as git records them: "0644", "0755" (files) or "0777" (symlinks). */
  mode: string;
  size: number;
  sha256: string;
  /** Git blob id: changes exactly when the content does (the download's ETag). */
  blob: string;
}

/** A head older than this is fetched again before answering (containers may poll; one fetch serves them all). */
const HEAD_MAX_AGE_MS = 2000;
/** sha256 by blob id (content-addressed, so never stale); bounded, oldest dropped first. */
const CHECKSUM_CACHE_SIZE = 50_000;

const typeOf = (e: TreeEntry): UnitFile['type'] | null => (e.type !== 'blob' ? null : e.mode === '120000' ? 'symlink' : 'file');

export class UnitFiles {
  private readonly checksums = new Map<string, string>();
  private fetchedAt = 0;

  constructor(private readonly ctx: AppContext) {}

  /** The commit to read: `?commit=` resolved (400 bad shape, 404 unknown), else the branch head fetched at most every 2 s. */
  async commit(ref?: unknown): Promise<string> {
    if (ref !== undefined && ref !== '') {
      if (typeof ref !== 'string' || !/^[0-9a-f]{7,64}$/.test(ref)) throw new ValidationError('commit must be 7 to 64 lowercase hex characters', 'commit');
      const sha = await this.ctx.repo.resolveCommit(ref);
      if (!sha) throw new NotFoundError(`commit ${ref} is not known to the server`);
      return sha;
    }
    const known = this.ctx.repo.lastKnownHead();
    if (known && Date.now() - this.fetchedAt < HEAD_MAX_AGE_MS) return known;
    try {
      const head = await this.ctx.repo.fetch();
      this.fetchedAt = Date.now();
      return head;
    } catch (err) {
      // Reads keep working on the last fetched head while the git server is down.
      if (known) {
        this.ctx.log.warn({ err, commit: known }, 'config repo fetch failed: serving files of the last fetched head');
        return known;
      }
      throw err;
    }
  }

  /** Every file of a unit at a commit, sorted by path; 404 when the unit has none. */
  async list(commit: string, unit: Unit): Promise<UnitFile[]> {
    const prefix = `${unitKey(unit)}/`;
    const entries = (await this.ctx.repo.listTreeEntries(commit, [prefix])).filter((e) => typeOf(e) !== null);
    if (entries.length === 0) throw new NotFoundError(`no unit ${unitKey(unit)} in the repo at ${commit.slice(0, 12)}`);
    await this.checksumsOf(entries.map((e) => e.oid));
    return entries.map((e) => this.toFile(e, prefix));
  }

  /** One regular file by its path on the host, in one of these units (exactly one must have it); 404 when none does. */
  async find(commit: string, units: Unit[], path: string): Promise<{ unit: Unit; file: UnitFile }> {
    const wanted = new Map(units.map((u) => [`${unitKey(u)}/${path}`, u]));
    const entries = (await this.ctx.repo.listTreeEntries(commit, [...wanted.keys()], { recursive: false })).filter((e) => wanted.has(e.path));
    const files = entries.filter((e) => typeOf(e) === 'file');
    if (files.length > 1) {
      throw new ValidationError(`${path} exists in several units (${files.map((e) => e.path.split('/')[0]).join(', ')}): give mod`, 'mod');
    }
    const entry = files[0];
    if (!entry) {
      const what = entries[0] ? `is not a regular file in ${unitKey(wanted.get(entries[0].path)!)}` : `is in no unit ${units.map(unitKey).join(', ')}`;
      throw new NotFoundError(`${path} ${what} at ${commit.slice(0, 12)}`);
    }
    const unit = wanted.get(entry.path)!;
    await this.checksumsOf([entry.oid]);
    return { unit, file: this.toFile(entry, `${unitKey(unit)}/`) };
  }

  /** Content of a blob (files are small config files; the listing caps nothing, downloads read one). */
  async content(oid: string): Promise<Buffer> {
    let out: Buffer | undefined;
    await this.ctx.repo.forEachBlob([oid], (_id, c) => { out = c; });
    if (!out) throw new NotFoundError(`blob ${oid} not found`);
    return out;
  }

  private toFile(e: TreeEntry, prefix: string): UnitFile {
    const type = typeOf(e)!;
    return {
      path: e.path.slice(prefix.length), repoPath: e.path, type,
      mode: type === 'symlink' ? '0777' : e.mode === '100755' ? '0755' : '0644',
      size: e.size ?? 0, sha256: this.checksums.get(e.oid)!, blob: e.oid,
    };
  }

  private async checksumsOf(oids: string[]): Promise<void> {
    const missing = [...new Set(oids.filter((o) => !this.checksums.has(o)))];
    // Make room first, so a listing never loses the checksums it is about to use.
    for (const old of this.checksums.keys()) {
      if (this.checksums.size + missing.length <= CHECKSUM_CACHE_SIZE) break;
      this.checksums.delete(old);
    }
    await this.ctx.repo.forEachBlob(missing, (oid, content) => {
      this.checksums.set(oid, createHash('sha256').update(content).digest('hex'));
    });
    for (const o of missing) if (!this.checksums.has(o)) throw new Error(`cat-file returned no content for ${o}`);
  }
}
