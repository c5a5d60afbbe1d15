// Merge-request payloads (fixtures in the documented GitLab and GitHub shapes): which actions make a preview,
// which are ignored, which are refused as malformed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headRef, parseGithubPullRequest, parseGitlabMergeRequest } from '../../server/src/preview/events.js';
import { fixture } from '../helpers/webhooks.js';

const gitlab = (patch: (p: any) => void) => { const p = fixture('gitlab-merge-request-update.json') as any; patch(p); return parseGitlabMergeRequest(p); };
const github = (patch: (p: any) => void) => { const p = fixture('github-pull-request-synchronize.json') as any; patch(p); return parseGithubPullRequest(p); };

describe('GitLab Merge Request Hook', () => {
  it('open, reopen and update with new commits (oldrev) are previewed', () => {
    const open = parseGitlabMergeRequest(fixture('gitlab-merge-request-open.json'));
    assert.deepEqual(open, { ok: true, event: { source: 'gitlab', project: '4242', number: 7, headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', targetBranch: 'main', url: 'https://gitlab.example.com/ops/fleet-config/-/merge_requests/7', actor: 'wanglei' } });
    const upd = parseGitlabMergeRequest(fixture('gitlab-merge-request-update.json'));
    assert.equal(upd.ok && upd.event.headSha, '4e4a4b2e0f1d6c9a8b7e6d5c4b3a29180716f5e4');
    assert.equal(gitlab((p) => { p.object_attributes.action = 'reopen'; }).ok, true);
  });
  it('update without oldrev, approved, close, merge are ignored', () => {
    assert.deepEqual(gitlab((p) => { delete p.object_attributes.oldrev; }), { ok: false, status: 200, ignored: 'merge request update without new commits' });
    for (const action of ['approved', 'close', 'merge', 'unapproved']) {
      const r = gitlab((p) => { p.object_attributes.action = action; });
      assert.equal(!r.ok && r.status, 200, action);
    }
  });
  it('malformed payloads are refused with the field named', () => {
    const cases: Array<[(p: any) => void, RegExp]> = [
      [(p) => { p.object_kind = 'push'; }, /object_kind/],
      [(p) => { p.object_attributes.iid = '7; rm -rf'; }, /object_attributes\.iid/],
      [(p) => { p.object_attributes.last_commit.id = '--upload-pack=x'; }, /last_commit\.id: must be a commit id/],
      [(p) => { delete p.project; }, /project/],
      [(p) => { p.object_attributes.oldrev = 'HEAD'; }, /oldrev/],
    ];
    for (const [patch, re] of cases) {
      const r = gitlab(patch);
      assert.equal(!r.ok && r.status, 400);
      assert.match(!r.ok && r.status === 400 ? r.reason : '', re);
    }
    assert.equal((parseGitlabMergeRequest([1, 2]) as { status: number }).status, 400);
  });
});

describe('GitHub pull_request', () => {
  it('opened, synchronize and reopened are previewed', () => {
    const r = parseGithubPullRequest(fixture('github-pull-request-opened.json'));
    assert.deepEqual(r, { ok: true, event: { source: 'github', project: 'acme/fleet-config', number: 12, headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', targetBranch: 'main', url: 'https://github.com/acme/fleet-config/pull/12', actor: 'lizhang' } });
    assert.equal(github(() => undefined).ok, true);
    assert.equal(github((p) => { p.action = 'reopened'; }).ok, true);
  });
  it('closed, edited, labeled are ignored', () => {
    for (const action of ['closed', 'edited', 'labeled', 'review_requested']) assert.equal((github((p) => { p.action = action; }) as { status: number }).status, 200);
  });
  it('malformed payloads are refused', () => {
    for (const patch of [(p: any) => { p.repository.full_name = '../../etc'; }, (p: any) => { p.number = 0; }, (p: any) => { delete p.pull_request.head; }]) {
      assert.equal((github(patch) as { status: number }).status, 400);
    }
  });
});

describe('headRef', () => {
  it('is the forge ref for the number', () => {
    assert.equal(headRef({ source: 'gitlab', number: 7 }), 'refs/merge-requests/7/head');
    assert.equal(headRef({ source: 'github', number: 12 }), 'refs/pull/12/head');
    assert.throws(() => headRef({ source: 'github', number: -1 }));
  });
});
