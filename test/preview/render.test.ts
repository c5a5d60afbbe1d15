// The preview comment: summary table (sample of hosts, counts, breaker, sync-window column), one collapsed
// section per distinct diff, a fence Markdown in the diff cannot close, failures said plainly, and the size cap.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMENT_MARKER, renderComment } from '../../server/src/preview/render.js';
import type { PreviewResult, UnitPreview } from '../../server/src/preview/run.js';

const diff = (text: string) => ({ files: [{ path: '/etc/x.conf', kind: 'modified' as const, diff: text }], omitted: 0 });
const unit = (over: Partial<UnitPreview>): UnitPreview => ({ unit: 'app/prod/web', hostCount: 2, hosts: [], deletions: 0, breaker: null, syncWindowConflicts: [], error: null, ...over });
const result = (units: UnitPreview[], content: 'merge' | 'head' = 'merge'): PreviewResult => ({ head: 'a'.repeat(40), base: 'b'.repeat(40), target: 'c'.repeat(40), content, units, finishedAt: '2026-12-01T00:00:00.000Z' });
const opts = { maxBytes: 60_000, branch: 'main' };
const host = (ip: string, state: 'changed' | 'unchanged' | 'unreachable' | 'error', d?: string) => ({ ip, hostname: null, state, changes: d ? ['+etc/x.conf'] : [], reason: state === 'unreachable' ? 'connection refused' : null, deletions: 0, diff: d ? diff(d) : undefined });

describe('renderComment', () => {
  it('summarises a sample of hosts and groups hosts with the same diff', () => {
    const body = renderComment({ headSha: 'a'.repeat(40), result: result([unit({
      hostCount: 12, deletions: 3, breaker: '3 files would be removed (limit 2 files)',
      hosts: [host('10.0.0.1', 'changed', '-a\n+b\n'), host('10.0.0.2', 'changed', '-a\n+b\n'), host('10.0.0.3', 'changed', '-c\n+b\n'), host('10.0.0.4', 'unchanged'), host('10.0.0.5', 'unreachable')],
    })]) }, opts);
    assert.ok(body.startsWith(`${COMMENT_MARKER}\n### gitfleet preview of \`aaaaaaaaaaaa\``));
    assert.match(body, /\| `app\/prod\/web` \| 5 of 12 \| 3 \| 1 \| 1 \| 3 \| ⚠ 3 files would be removed \(limit 2 files\) \| — \|/);
    assert.match(body, /<summary><code>app\/prod\/web<\/code> on 10\.0\.0\.1, 10\.0\.0\.2<\/summary>\n\n```diff\n-a\n\+b\n```/);
    assert.match(body, /<summary><code>app\/prod\/web<\/code> on 10\.0\.0\.3<\/summary>/);
    assert.match(body, /- 10\.0\.0\.5: unreachable \(connection refused\)/);
  });
  it('says whether hosts were compared with the merge or, on a conflict, with the head', () => {
    assert.match(renderComment({ headSha: 'a'.repeat(40), result: result([unit({})]) }, opts), /What each sampled host would get once merged into `main` \(at `cccccccccccc`\); units changed since the merge base `bbbbbbbbbbbb`/);
    assert.match(renderComment({ headSha: 'a'.repeat(40), result: result([unit({})], 'head') }, opts), /⚠ This conflicts with `main` \(at `cccccccccccc`\): what each sampled host would get from the merge request's head as it is/);
  });
  it('uses a fence longer than any backtick run in the diff', () => {
    const body = renderComment({ headSha: 'a'.repeat(40), result: result([unit({ hosts: [host('10.0.0.1', 'changed', '+```\n+````js\n')] })]) }, opts);
    assert.match(body, /\n`````diff\n\+```\n\+````js\n`````\n/);
  });
  it('says when nothing deployable changed, and when the preview failed', () => {
    assert.match(renderComment({ headSha: 'a'.repeat(40), result: result([]) }, opts), /touches no deployable unit/);
    assert.match(renderComment({ headSha: 'a'.repeat(40), error: 'the merge request shares no history with main' }, opts), /The preview failed: the merge request shares no history with main/);
    const failed = renderComment({ headSha: 'a'.repeat(40), result: result([unit({ error: 'inventory lookup failed: <timeout>' })]) }, opts);
    assert.match(failed, /\| `app\/prod\/web` \| 2 \| — \| — \| — \| — \| — \| — \|/);
    assert.match(failed, /inventory lookup failed: &lt;timeout&gt;/);
    const leak = renderComment({ headSha: 'a'.repeat(40), error: "git fetch failed (exit 128): fatal: unable to access 'https://deploy:glpat-s3cret@gitlab.example.com/ops/config.git/'" }, opts);
    assert.ok(!leak.includes('s3cret') && leak.includes('https://***@gitlab.example.com/ops/config.git/'), leak);
  });
  it('stays under the size cap: whole unit sections are left out, with the dashboard link', () => {
    const big = (i: number) => unit({ unit: `app/prod/u${i}`, hosts: [host('10.0.0.1', 'changed', `${'+line\n'.repeat(400)}`)] });
    const body = renderComment({ headSha: 'a'.repeat(40), result: result([1, 2, 3, 4, 5].map(big)) }, { ...opts, maxBytes: 6000, dashboardUrl: 'https://gf.example.com/' });
    assert.ok(Buffer.byteLength(body) <= 6000, `${Buffer.byteLength(body)} bytes`);
    assert.equal((body.match(/^\| `app\/prod\/u\d` /gm) ?? []).length, 5, 'every unit in the table');
    assert.match(body, /_[1-5] unit section\(s\) left out \(comment size cap\)\._ \[Full preview in the gitfleet dashboard\]\(https:\/\/gf\.example\.com\/\)/);
    const many = renderComment({ headSha: 'a'.repeat(40), result: result(Array.from({ length: 300 }, (_, i) => unit({ unit: `app/prod/unit-with-a-long-name-${i}` }))) }, { ...opts, maxBytes: 4000 });
    assert.ok(Buffer.byteLength(many) <= 4000);
    assert.match(many, /_Cut at the comment size cap\._\n$/);
  });
});
