// Reading a unit's files from the config repo: listings with size, mode and sha256, and single files by path.
import { createHash } from 'node:crypto';
import type { AppContext } from '../context.js';
import { METADATA_FILE, deployableFiles, parseMetadata, type UnitMetadata } from '../deploy/metadata.js';
import { AppError, NotFoundError, ValidationError } from '../errors.js';
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
/** Parsed .gitfleet.yaml by blob id, likewise. */
const METADATA_CACHE_SIZE = 500;

/** The unit's .gitfleet.yaml cannot be parsed: which of its files are host paths is unknown, so none is served. */
export class InvalidMetadataError extends AppError {
  constructor(message: string) {
    super('invalid_unit_metadata', 409, message);
  }
}

const typeOf = (e: TreeEntry): UnitFile['type'] | null => (e.type !== 'blob' ? null : e.mode === '120000' ? 'symlink' : 'file');

export class UnitFiles {
  private readonly checksums = new Map<string, string>();
  private readonly metadata = new Map<string, UnitMetadata>();
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

  /** Every host file of a unit at a commit (what a deployment pushes: no metadata, no excluded path), sorted by path; 404 when the unit has none. */
  async list(commit: string, unit: Unit): Promise<UnitFile[]> {
    const prefix = `${unitKey(unit)}/`;
    const all = (await this.ctx.repo.listTreeEntries(commit, [prefix])).filter((e) => typeOf(e) !== null);
    if (all.length === 0) throw new NotFoundError(`no unit ${unitKey(unit)} in the repo at ${commit.slice(0, 12)}`);
    const meta = await this.metadataOf(unit, all.find((e) => e.path === `${prefix}${METADATA_FILE}`)?.oid);
    const hostPaths = new Set(deployableFiles(meta, all.map((e) => e.path.slice(prefix.length))));
    const entries = all.filter((e) => hostPaths.has(e.path.slice(prefix.length)));
    await this.checksumsOf(entries.map((e) => e.oid));
    return entries.map((e) => this.toFile(e, prefix));
  }

  /** One regular file by its path on the host, in one of these units (exactly one must have it); 404 when none does. */
  async find(commit: string, units: Unit[], path: string): Promise<{ unit: Unit; file: UnitFile }> {
    const wanted = new Map(units.map((u) => [`${unitKey(u)}/${path}`, u]));
    const entries = (await this.ctx.repo.listTreeEntries(commit, [...wanted.keys()], { recursive: false })).filter((e) => wanted.has(e.path));
    // A path the unit's .gitfleet.yaml excludes is never on the hosts: not served, as if it were not there.
    const excludedIn: Unit[] = [];
    const served: typeof entries = [];
    for (const e of entries) {
      const u = wanted.get(e.path)!;
      if (typeOf(e) === 'file' && (await this.excluded(commit, u, path))) excludedIn.push(u); else served.push(e);
    }
    const files = served.filter((e) => typeOf(e) === 'file');
    if (files.length > 1) {
      throw new ValidationError(`${path} exists in several units (${files.map((e) => e.path.split('/')[0]).join(', ')}): give mod`, 'mod');
    }
    const entry = files[0];
    if (!entry && excludedIn.length && !served.length) {
      throw new NotFoundError(`${path} is excluded by the ${METADATA_FILE} of ${excludedIn.map(unitKey).join(', ')} (never pushed to hosts) at ${commit.slice(0, 12)}`);
    }
    if (!entry) {
      const what = entries[0] ? `is not a regular file in ${unitKey(wanted.get(entries[0].path)!)}` : `is in no unit ${units.map(unitKey).join(', ')}`;
      throw new NotFoundError(`${path} ${what} at ${commit.slice(0, 12)}`);
    }
    const unit = wanted.get(entry.path)!;
    await this.checksumsOf([entry.oid]);
    return { unit, file: this.toFile(entry, `${unitKey(unit)}/`) };
  }

  /** Is this host path excluded by the unit's metadata at the commit? */
  private async excluded(commit: string, unit: Unit, path: string): Promise<boolean> {
    const [m] = await this.ctx.repo.listTreeEntries(commit, [`${unitKey(unit)}/${METADATA_FILE}`], { recursive: false });
    return deployableFiles(await this.metadataOf(unit, m?.type === 'blob' ? m.oid : undefined), [path]).length === 0;
  }

  /** A unit's parsed .gitfleet.yaml (its blob id; none = empty); 409 when it is invalid. */
  private async metadataOf(unit: Unit, oid: string | undefined): Promise<UnitMetadata> {
    if (!oid) return parseMetadata(undefined);
    const known = this.metadata.get(oid);
    if (known) return known;
    let meta: UnitMetadata;
    try {
      meta = parseMetadata((await this.content(oid)).toString('utf8'));
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new InvalidMetadataError(`${unitKey(unit)}: ${(err as Error).message}; its host files cannot be told apart until it is fixed`);
    }
    if (this.metadata.size >= METADATA_CACHE_SIZE) this.metadata.delete(this.metadata.keys().next().value!);
    this.metadata.set(oid, meta);
    return meta;
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
