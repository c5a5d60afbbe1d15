import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { verifyGithubSignature, verifyGitlabToken, verifyStandardWebhook } from '../../server/src/gitops/webhook-auth.js';
import { deliveryKey, parsePushPayload } from '../../server/src/gitops/push-event.js';

describe('webhook authentication', () => {
  it('GitHub: the documented test vector', () => {
    const sig = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    assert.equal(verifyGithubSignature(sig, Buffer.from('Hello, World!'), "It's a Secret to Everybody"), true);
    assert.equal(verifyGithubSignature(sig, Buffer.from('Hello, World?'), "It's a Secret to Everybody"), false);
    assert.equal(verifyGithubSignature(undefined, Buffer.from('x'), 's'), false);
    assert.equal(verifyGithubSignature('sha256=short', Buffer.from('x'), 's'), false);
  });
  it('GitLab token: exact match only', () => {
    assert.equal(verifyGitlabToken('secret-token', 'secret-token'), true);
    assert.equal(verifyGitlabToken('secret-toke', 'secret-token'), false);
    assert.equal(verifyGitlabToken(undefined, 'secret-token'), false);
  });
  it('Standard Webhooks signature: valid, tampered, replayed, multiple signatures, whsec_ keys', () => {
    const body = Buffer.from('{"object_kind":"push"}');
    const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    const key = Buffer.from('0123456789abcdef0123456789abcdef');
    const sign = (id: string, ts: number, b: Buffer) => `v1,${createHmac('sha256', key).update(`${id}.${ts}.`).update(b).digest('base64')}`;
    const now = 1_800_000_000;
    const ok = verifyStandardWebhook({ id: 'msg_1', timestamp: String(now), signature: `v1,bogus ${sign('msg_1', now, body)}` }, body, secret, now + 10, 300);
    assert.deepEqual(ok, { ok: true });
    const tampered = verifyStandardWebhook({ id: 'msg_1', timestamp: String(now), signature: sign('msg_1', now, body) }, Buffer.from('{}'), secret, now, 300);
    assert.equal(tampered.ok, false);
    const replay = verifyStandardWebhook({ id: 'msg_1', timestamp: String(now), signature: sign('msg_1', now, body) }, body, secret, now + 301, 300);
    assert.deepEqual(replay, { ok: false, reason: 'webhook-timestamp outside the allowed window (replay?)' });
    assert.equal(verifyStandardWebhook({ id: 'msg_1', timestamp: String(now) }, body, secret, now, 300).ok, false);
    const plain = `v1,${createHmac('sha256', 'plain-secret').update(`m.${now}.`).update(body).digest('base64')}`;
    assert.equal(verifyStandardWebhook({ id: 'm', timestamp: String(now), signature: plain }, body, 'plain-secret', now, 300).ok, true);
  });
});

describe('push payload parsing', () => {
  const sha = 'a'.repeat(40);
  it('takes ref, before, after and the actor; rejects bad shapes', () => {
    const r = parsePushPayload({ object_kind: 'push', ref: 'refs/heads/main', before: '0'.repeat(40), after: sha, user_username: 'lwei', project_id: 7 }, 'gitlab');
    assert.deepEqual(r, { ok: true, event: { ref: 'refs/heads/main', before: '0'.repeat(40), after: sha, actor: 'lwei', projectId: '7' } });
    assert.equal(parsePushPayload({ object_kind: 'tag_push', ref: 'x', before: sha, after: sha }, 'gitlab').ok, false);
    assert.equal(parsePushPayload({ object_kind: 'push', ref: 'refs/heads/main', before: '--upload-pack=x', after: sha }, 'gitlab').ok, false);
    assert.equal(parsePushPayload([], 'github').ok, false);
    assert.equal(parsePushPayload({ ref: 'refs/heads/main', before: sha, after: sha, sender: { login: 'octo' } }, 'github').ok, true);
  });
  it('dedupes on the delivery id when present, else on the event content', () => {
    const e = { ref: 'refs/heads/main', before: sha, after: sha, actor: null, projectId: '1' };
    assert.equal(deliveryKey('gitlab', 'abc-123', e), 'gitlab:abc-123');
    assert.equal(deliveryKey('gitlab', undefined, e), deliveryKey('gitlab', undefined, { ...e, actor: 'other' }));
    assert.notEqual(deliveryKey('gitlab', undefined, e), deliveryKey('gitlab', undefined, { ...e, after: 'b'.repeat(40) }));
    assert.match(deliveryKey('gitlab', 'bad key with spaces', e), /^gitlab:[0-9a-f]{64}$/);
  });
});
