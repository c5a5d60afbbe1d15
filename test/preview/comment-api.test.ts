// The comment client against the stand-in APIs: create then edit (documented methods, paths, headers), retries
// on 5xx, a clear error after the last try, a deleted comment reported as gone, a missing token refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { UpstreamDataError, UpstreamUnavailableError } from '../../server/src/errors.js';
import { previewsConfigSchema } from '../../server/src/preview/config-schema.js';
import { CommentGoneError, upsertComment } from '../../server/src/preview/comment-api.js';
import { startFakeForge, type FakeForge } from './fake-forge.js';

const log = pino({ level: 'silent' });
const GL = 'glpat-secret-token';
const GH = 'ghp_secret_token';

describe('preview comment API client', () => {
  let forge: FakeForge;
  let cfg: ReturnType<typeof previewsConfigSchema.parse>;
  before(async () => {
    forge = await startFakeForge({ gitlabToken: GL, githubToken: GH });
    cfg = previewsConfigSchema.parse({ enabled: true, apiTimeout: 2, gitlab: { url: `${forge.url}/api/v4/`, token: GL }, github: { url: forge.url, token: GH } });
  });
  after(async () => { await forge?.close(); });

  it('GitLab: POST a note, then PUT the same note', async () => {
    const t = { source: 'gitlab' as const, project: '4242', number: 7 };
    const id = await upsertComment(cfg, t, 'first', undefined, log);
    assert.equal(await upsertComment(cfg, t, 'second', id, log), id);
    assert.deepEqual(forge.requests.slice(-2).map((r) => [r.method, r.path, r.headers['private-token'], r.body]), [
      ['POST', '/api/v4/projects/4242/merge_requests/7/notes', GL, { body: 'first' }],
      ['PUT', `/api/v4/projects/4242/merge_requests/7/notes/${id}`, GL, { body: 'second' }],
    ]);
    assert.equal(forge.comments.get(Number(id)), 'second');
  });

  it('GitHub: POST an issue comment, then PATCH it; retried on 502', async () => {
    const t = { source: 'github' as const, project: 'acme/fleet-config', number: 12 };
    forge.failNext.push(502);
    const n = forge.requests.length;
    const id = await upsertComment(cfg, t, 'hello', undefined, log);
    await upsertComment(cfg, t, 'again', id, log);
    assert.deepEqual(forge.requests.slice(n).map((r) => `${r.method} ${r.path}`), [
      'POST /repos/acme/fleet-config/issues/12/comments', 'POST /repos/acme/fleet-config/issues/12/comments', `PATCH /repos/acme/fleet-config/issues/comments/${id}`,
    ]);
    const last = forge.requests.at(-1)!;
    assert.equal(last.headers.authorization, `Bearer ${GH}`);
    assert.equal(last.headers.accept, 'application/vnd.github+json');
    assert.equal(forge.comments.get(Number(id)), 'again');
  });

  it('three 5xx answers: UpstreamUnavailableError, no token in the message', async () => {
    forge.failNext.push(503, 500, 503);
    const err = await upsertComment(cfg, { source: 'gitlab', project: '4242', number: 7 }, 'x', undefined, log).catch((e: unknown) => e);
    assert.ok(err instanceof UpstreamUnavailableError);
    assert.equal((err as Error).message, 'gitlab comment API unavailable: HTTP 503');
  });

  it('an edited comment that is gone, a 4xx, and a missing token', async () => {
    await assert.rejects(upsertComment(cfg, { source: 'github', project: 'acme/fleet-config', number: 12 }, 'x', '999999', log), CommentGoneError);
    const bad = previewsConfigSchema.parse({ enabled: true, gitlab: { url: `${forge.url}/api/v4`, token: 'wrong' } });
    const e = await upsertComment(bad, { source: 'gitlab', project: '4242', number: 7 }, 'x', undefined, log).catch((x: unknown) => x);
    assert.ok(e instanceof UpstreamDataError);
    assert.match((e as Error).message, /HTTP 401/);
    const none = previewsConfigSchema.parse({ enabled: true });
    await assert.rejects(upsertComment(none, { source: 'github', project: 'acme/fleet-config', number: 12 }, 'x', undefined, log), /previews\.github\.token is not set/);
  });
});
