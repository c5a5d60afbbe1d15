// Who is calling: config tokens (admin), stored tokens (scoped, hashed), or the open API; and the token store's writes.
import { createHash, randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import type { Db } from '../db/connection.js';
import * as store from '../db/api-tokens.js';
import { isUniqueViolation } from '../db/errors.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { secretEquals } from '../util/secret-equals.js';
import { isLoopbackHost } from './listen-policy.js';
import { ADMIN, type Actor, type Scopes } from './scopes.js';

/** Token names: like a unit segment, and never config-N (those are the config's tokens). */
export const TOKEN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** How often at most a token's last use is written (a request does not need a write each time). */
const TOUCH_EVERY_MS = 60_000;

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface AuthDeps { config: Config; db: Db; clock: () => Date }
export type Verified = { actor: Actor & { kind: 'token' } } | { reason: string };
export interface NewToken { name: string; scopes: Scopes; expiresAt: string | null; createdBy: string }

export class Auth {
  constructor(private readonly d: AuthDeps) {}

  /** A token's actor, or why it is refused (unknown, expired, revoked). */
  async verify(secret: string): Promise<Verified> {
    return this.verifyDigest(sha256(secret));
  }

  /**
   * The same by the secret's SHA-256 (hex): how a dashboard session, which keeps only that digest, re-checks its
   * token on every request (a revoked or expired token ends its sessions).
   */
  async verifyDigest(digest: string): Promise<Verified> {
    // Config tokens: every one compared, so timing does not tell which matched.
    const hits = this.d.config.api.tokens.map((t) => secretEquals(digest, sha256(t)));
    const i = hits.indexOf(true);
    if (i >= 0) return { actor: { kind: 'token', name: `config-${i + 1}`, scopes: ADMIN, expiresAt: null } };
    const t = await store.tokenBySha(this.d.db, digest);
    if (!t) return { reason: 'unknown API token' };
    const now = this.d.clock();
    if (t.revokedAt) return { reason: `API token '${t.name}' was revoked at ${t.revokedAt}` };
    if (t.expiresAt && t.expiresAt <= now.toISOString()) return { reason: `API token '${t.name}' expired at ${t.expiresAt}` };
    if (!t.lastUsedAt || now.getTime() - Date.parse(t.lastUsedAt) >= TOUCH_EVERY_MS) {
      // Best effort: a full disk must not turn every request into an error.
      await store.touchToken(this.d.db, t.name, now.toISOString()).catch(() => undefined);
    }
    return { actor: { kind: 'token', name: t.name, scopes: t.scopes, expiresAt: t.expiresAt } };
  }

  /** The actor of a token secret, or null (unknown, expired, revoked). For sign-in forms that swap a token for a session. */
  async authenticateToken(secret: string): Promise<Actor | null> {
    const v = await this.verify(secret);
    return 'actor' in v ? v.actor : null;
  }

  /** Any API token configured: in the config, or stored, neither revoked nor expired. */
  async tokensConfigured(): Promise<boolean> {
    return this.d.config.api.tokens.length > 0 || (await store.countLiveTokens(this.d.db, this.d.clock().toISOString())) > 0;
  }

  /** The API is open: no token configured, and loopback or api.open (boot refuses to start otherwise). */
  async isOpen(): Promise<boolean> {
    const { server, api } = this.d.config;
    if (!isLoopbackHost(server.host) && !api.open) return false;
    return !(await this.tokensConfigured());
  }

  /**
   * The caller of a request: a bearer token if one is sent (also on an open API: a wrong token is an error, not
   * "open"), else the open API, else anonymous with the reason for a 401.
   */
  async resolveActor(req: { headers: Record<string, string | string[] | undefined> }): Promise<Actor> {
    const header = req.headers.authorization;
    if (typeof header === 'string' && header !== '') {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      if (!m) return { kind: 'anonymous', reason: 'the Authorization header must be "Bearer <token>"' };
      const v = await this.verify(m[1]!);
      return 'actor' in v ? v.actor : { kind: 'anonymous', reason: v.reason };
    }
    // (A dashboard session cookie is looked up before this: http/middleware/auth.ts resolveActorMiddleware.)
    if (await this.isOpen()) return { kind: 'open' };
    return { kind: 'anonymous', reason: 'a valid bearer token is required (Authorization: Bearer <token>)' };
  }

  /** Store a new token; returns its secret (shown once: only its hash is kept). */
  async createToken(t: NewToken): Promise<{ secret: string; token: store.StoredToken }> {
    if (!TOKEN_NAME_RE.test(t.name)) throw new ValidationError(`name must match ${TOKEN_NAME_RE.source}; got ${JSON.stringify(t.name)}`, 'name');
    if (/^config-\d+$/.test(t.name)) throw new ValidationError('names config-1, config-2, … are the tokens of api.tokens in the config', 'name');
    const secret = `gft_${randomBytes(32).toString('base64url')}`;
    const now = this.d.clock().toISOString();
    if (t.expiresAt !== null && t.expiresAt <= now) throw new ValidationError(`expiresAt ${t.expiresAt} is not in the future`, 'expiresAt');
    try {
      await this.d.db.tx((q) => store.insertToken(q, { name: t.name, sha256: sha256(secret), scopes: t.scopes, createdAt: now, createdBy: t.createdBy, expiresAt: t.expiresAt }));
    } catch (err) {
      if (isUniqueViolation(err, 'api_tokens', 'name')) throw new ConflictError(`a token named ${t.name} exists (names are not reused, also after a revoke)`);
      throw err;
    }
    return { secret, token: (await store.tokenByName(this.d.db, t.name))! };
  }

  /**
   * On a public address without api.tokens or api.open, the last live admin token is not revoked: nobody could make
   * a new one through the API, and the next start would refuse (the answer says what to do instead).
   */
  private async refuseLockout(name: string): Promise<void> {
    const { server, api } = this.d.config;
    if (isLoopbackHost(server.host) || api.open || api.tokens.length > 0) return;
    const now = this.d.clock().toISOString();
    const live = (await store.listTokens(this.d.db)).filter((t) => !t.revokedAt && (!t.expiresAt || t.expiresAt > now));
    const admins = live.filter((t) => t.scopes.admin);
    if (admins.length === 1 && admins[0]!.name === name) {
      throw new ConflictError(`${name} is the last admin token and ${server.host} is not a loopback address: create another admin token (or set api.tokens) before revoking it`);
    }
  }

  listTokens(): Promise<store.StoredToken[]> {
    return store.listTokens(this.d.db);
  }

  async revokeToken(name: string, by: string): Promise<store.StoredToken> {
    if (/^config-\d+$/.test(name)) throw new ValidationError(`${name} is a token of api.tokens in the config: remove it there`, 'name');
    await this.refuseLockout(name);
    const revoked = await this.d.db.tx((q) => store.revokeToken(q, name, this.d.clock().toISOString(), by));
    const t = await store.tokenByName(this.d.db, name);
    if (!t) throw new NotFoundError(`no API token named ${name}`);
    if (!revoked) throw new ConflictError(`API token ${name} was revoked already at ${t.revokedAt}`);
    return t;
  }
}
