// /modify: edit key=value lines of a unit's properties file, commit with the request's author, push (retrying when the
// branch moved, never forcing), then deploy through the normal push path. One modify at a time.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppContext } from '../context.js';
import { ConflictError, NotFoundError, QueueFullError, ValidationError } from '../errors.js';
import type { Submitted } from '../deploy/deployer.js';
import { isSegment } from '../util/validate.js';
import { commitMessage, type ModifyRequest } from './modify-request.js';
import { editProperties, type KeyChange } from './properties.js';
import { WorkClone } from './work-clone.js';

export interface ModifyResult {
  changed: boolean;
  unit: string;
  path: string;
  /** The new commit when changed, else the head the file was read at. */
  commit: string;
  parent: string;
  attempts: number;
  changes: KeyChange[];
  deployment: Submitted | null;
  /** Set when the commit is pushed but the deployment could not be queued (the poller or the next push deploys it). */
  deployError?: string;
}

/** Test seams (the concurrent-push test pushes to origin between our commit and our push). */
export interface ModifyHooks {
  beforePush?(attempt: number): Promise<void>;
}

export class ModifyService {
  private readonly clone: WorkClone;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly ctx: AppContext, private readonly hooks: ModifyHooks = {}) {
    const cfg = ctx.config.modify;
    this.clone = new WorkClone({
      dir: join(ctx.config.dataDir, 'modify', 'work'), url: ctx.repo.opts.url, branch: ctx.config.repo.branch,
      timeoutMs: cfg.gitTimeout * 1000, committer: cfg.committer, log: ctx.log,
    });
  }

  /** Run one modify after any running one (serialized: the working clone is shared). */
  modify(req: ModifyRequest): Promise<ModifyResult> {
    const run = this.tail.then(() => this.run(req));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async run(req: ModifyRequest): Promise<ModifyResult> {
    const { ctx } = this;
    const cfg = ctx.config.modify;
    const log = ctx.log.child({ module: 'modify' });
    // Keys and values are UTF-8 text; the file is handled as bytes (latin1 maps each byte to one char and back).
    const toBytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
    const setKeys = Object.keys(req.set);
    const edit = { set: Object.fromEntries(Object.entries(req.set).map(([k, v]) => [toBytes(k), toBytes(v)])), delete: req.delete.map(toBytes) };
    const original = new Map([...setKeys, ...req.delete].map((k) => [toBytes(k), k]));

    for (let attempt = 1; attempt <= cfg.attempts; attempt++) {
      if (ctx.shutdown.aborted) throw new QueueFullError('server is shutting down, not taking modifications');
      const head = await this.clone.reset();
      const { unit, repoPath } = await this.locate(req, head);
      const before = await this.read(repoPath);
      const result = editProperties(before.toString('latin1'), edit);
      const changes = result.changes.map((c) => ({ ...c, key: original.get(c.key) ?? c.key }));
      const base = { unit, path: req.path, parent: head, attempts: attempt, changes };
      if (!result.changed) return { ...base, changed: false, commit: head, deployment: null };

      await this.clone.write(repoPath, Buffer.from(result.text, 'latin1'));
      const commit = await this.clone.commit(repoPath, req.author, commitMessage(req, unit));
      await this.hooks.beforePush?.(attempt);
      const pushed = await this.clone.push();
      if (pushed.kind === 'refused') throw new ConflictError(`the config repo refused the push: ${pushed.detail}`);
      if (pushed.kind === 'moved') {
        log.warn({ unit, attempt, detail: pushed.detail }, 'modify: the branch moved before our push; re-applying on the new head');
        if (attempt < cfg.attempts) await sleep(cfg.retryBackoff * 1000 * 2 ** (attempt - 1));
        continue;
      }
      log.info({ unit, path: req.path, commit, parent: head, attempt, keys: changes.length }, 'modify pushed');
      return { ...base, changed: true, commit, ...(await this.deploy(req)) };
    }
    throw new ConflictError(`the branch ${ctx.config.repo.branch} moved during each of ${cfg.attempts} attempts; nothing was pushed, try again`);
  }

  /** The unit and repo path of the file: the given mod, or the one unit of env/app that has it. */
  private async locate(req: ModifyRequest, head: string): Promise<{ unit: string; repoPath: string }> {
    const mods = req.mod ? [req.mod] : (await this.clone.topDirs()).filter(isSegment);
    const paths = mods.map((m) => `${m}/${req.env}/${req.app}/${req.path}`);
    const found = (await this.clone.entries(paths)).filter((e) => e.type === 'blob');
    if (found.length > 1) {
      throw new ValidationError(`${req.path} exists in several units of ${req.env}/${req.app} (${found.map((e) => e.path.split('/')[0]).join(', ')}): give mod`, 'mod');
    }
    const entry = found[0];
    if (!entry) {
      const unit = req.mod ? `${req.mod}/${req.env}/${req.app}` : `*/${req.env}/${req.app}`;
      if (req.mod && !(await this.clone.hasDir(unit))) throw new NotFoundError(`no unit ${unit} in the repo at ${head.slice(0, 12)}`);
      throw new NotFoundError(`no file ${req.path} in unit ${unit} at ${head.slice(0, 12)}`);
    }
    // Its content is age ciphertext: an edit would destroy it, and the server must never write a secret in clear.
    if (entry.path.endsWith('.age')) throw new ValidationError(`${entry.path} is encrypted (age): modify cannot edit it; decrypt, edit and re-encrypt it in the repo (scripts/secret.mjs)`, 'path');
    if (entry.mode !== '100644' && entry.mode !== '100755') throw new ValidationError(`${entry.path} is not a regular file (git mode ${entry.mode}); modify edits regular files only`, 'path');
    if ((entry.size ?? 0) > this.ctx.config.modify.maxFileBytes) throw new ValidationError(`${entry.path} is larger than modify.maxFileBytes (${this.ctx.config.modify.maxFileBytes})`, 'path');
    const unit = entry.path.split('/').slice(0, 3).join('/');
    return { unit, repoPath: entry.path };
  }

  private async read(repoPath: string): Promise<Buffer> {
    const content = await readFile(join(this.clone.dir, repoPath));
    if (content.includes(0)) throw new ValidationError(`${repoPath} is a binary file; modify edits text properties files only`, 'path');
    return content;
  }

  /** Fetch into the server's repo cache and queue a push deployment, like a webhook would. */
  private async deploy(req: ModifyRequest): Promise<{ deployment: Submitted | null; deployError?: string }> {
    const actor = `modify by ${req.author.name} <${req.author.email}>`.slice(0, 100);
    try {
      await this.ctx.repo.fetch();
      return { deployment: await this.ctx.deployer.submit({ kind: 'push', trigger: 'api', actor }) };
    } catch (err) {
      this.ctx.log.error({ err }, 'modify pushed but the deployment could not be queued');
      return { deployment: null, deployError: (err as Error).message };
    }
  }
}
