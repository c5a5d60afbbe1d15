// The CLI's PURE printing: tables, ages and durations, progress, outcome, and the per-host change lists (with a diff).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatAge, formatDuration, renderTable } from '../../server/src/cli/render.js';
import { changesText, deploymentDetail, progressLine, succeeded, type ApiDeployment, type ApiHostPush } from '../../server/src/cli/views.js';

const host = (ip: string, over: Partial<ApiHostPush> = {}): ApiHostPush => ({
  unit: 'app/prod/web', ip, hostname: null, status: 'succeeded', exitCode: 0, reason: null, filesChanged: 1, changes: ['+etc/a.conf'],
  stderrTail: null, attempts: 1, durationMs: 1200, startedAt: null, finishedAt: null, ...over,
});
const deployment = (over: Partial<ApiDeployment> = {}): ApiDeployment => ({
  id: 7, trigger: 'manual', actor: 'cli:ops', branch: 'main', before: null, after: 'a'.repeat(40), request: { kind: 'sync', trigger: 'manual' },
  units: ['app/prod/web'], status: 'succeeded', error: null, createdAt: '2026-01-01T00:00:00.000Z', startedAt: '2026-01-01T00:00:01.000Z',
  finishedAt: '2026-01-01T00:00:05.500Z', unitResults: [], hosts: [host('192.0.2.1'), host('192.0.2.2')], ...over,
});

it('pads columns to the widest cell, leaves the last one free, prints empty cells as -', () => {
  assert.equal(renderTable(['ID', 'IP', 'REASON'], [[1, '192.0.2.10', null], [22, '10.0.0.1', 'connection refused']]),
    'ID  IP          REASON\n1   192.0.2.10  -\n22  10.0.0.1    connection refused\n');
});

it('formats durations and ages', () => {
  assert.deepEqual([null, 850, 4200, 192_000, 7_500_000].map(formatDuration), ['-', '850ms', '4.2s', '3m12s', '2h5m']);
  const now = Date.parse('2026-01-02T00:00:00Z');
  assert.deepEqual(['2026-01-01T23:59:48Z', '2026-01-01T23:55:00Z', '2026-01-01T21:00:00Z', '2025-12-30T00:00:00Z', null, 'nonsense'].map((t) => formatAge(t, now)),
    ['12s', '5m', '3h', '3d', '-', '-']);
});

it('counts hosts done and failed for the progress line', () => {
  const d = deployment({ status: 'running', unitResults: [{ unit: 'app/prod/web', commit: null, status: 'running', reason: null, hostCount: 3, startedAt: null, finishedAt: null }],
    hosts: [host('192.0.2.1'), host('192.0.2.2', { status: 'failed' }), host('192.0.2.3', { status: 'running' })] });
  assert.equal(progressLine(d), 'deployment 7 running: 2/3 hosts done, 1 failed, 1 unit');
});

it('is a success only when the deployment and every host succeeded', () => {
  assert.equal(succeeded(deployment()), true);
  assert.equal(succeeded(deployment({ status: 'partial' })), false);
  assert.equal(succeeded(deployment({ status: 'failed', hosts: [] })), false, 'a held unit fails its deployment');
  assert.equal(succeeded(deployment({ hosts: [host('192.0.2.1', { status: 'aborted' })] })), false);
});

it('lists per host the changes, a failure with its reason, and a content diff when the server sends one', () => {
  const text = changesText([
    // The shape the server sends (deploy/host-diff.ts HostDiff): per file a kind and, for text, the unified diff.
    host('192.0.2.1', { changes: ['+etc/a.conf', '-etc/old.conf'], diff: { omitted: 1, files: [
      { path: '/etc/a.conf', kind: 'modified', diff: '--- host/etc/a.conf\n+++ git/etc/a.conf\n@@ -1 +1 @@\n-v1\n+v2\n' },
      { path: '/etc/logo.png', kind: 'binary', hostBytes: 10, newBytes: 12 },
    ] } }),
    host('192.0.2.2', { changes: [] }),
    host('192.0.2.3', { status: 'failed', reason: 'host unreachable (connection refused)', changes: [] }),
  ]);
  assert.equal(text, [
    '', 'app/prod/web on 192.0.2.1:', '  +etc/a.conf', '  -etc/old.conf', '  --- host/etc/a.conf', '  +++ git/etc/a.conf', '  @@ -1 +1 @@', '  -v1', '  +v2',
    '  /etc/logo.png: binary, 10 → 12 bytes', '  … and 1 more changed file(s) not shown',
    '', 'app/prod/web on 192.0.2.2: no changes',
    '', 'app/prod/web on 192.0.2.3: failed: host unreachable (connection refused)', '',
  ].join('\n'));
});

it('shows a deployment with its unit reasons, host rows and the stderr of failed hosts; changes only for dry runs or --files', () => {
  const d = deployment({
    status: 'partial', error: 'app/prod/web: partial',
    unitResults: [{ unit: 'app/prod/web', commit: 'b'.repeat(40), status: 'partial', reason: '1 of 2 hosts not deployed', hostCount: 2, startedAt: null, finishedAt: null }],
    hosts: [host('192.0.2.1', { hostname: 'web-1' }), host('192.0.2.2', { status: 'failed', reason: 'validate hook failed', stderrTail: 'line1\nnginx: bad directive\n', filesChanged: null })],
  });
  const text = deploymentDetail(d, Date.parse('2026-01-01T00:10:00Z'));
  assert.match(text, /^Status: +partial$/m);
  assert.match(text, /^Duration: +4\.5s$/m);
  assert.match(text, /^Error: +app\/prod\/web: partial$/m);
  assert.match(text, /^app\/prod\/web +bbbbbbbbbb +partial +2 +1 of 2 hosts not deployed$/m);
  assert.match(text, /^app\/prod\/web +192\.0\.2\.1 \(web-1\) +succeeded +1 +1\.2s +1 +-$/m);
  assert.match(text, /^app\/prod\/web +192\.0\.2\.2 +failed +1 +1\.2s +- +validate hook failed$/m);
  assert.match(text, /stderr of 192\.0\.2\.2 \(app\/prod\/web\):\n {2}line1\n {2}nginx: bad directive\n/);
  assert.doesNotMatch(text, /\+etc\/a\.conf/);
  assert.match(deploymentDetail(d, 0, { files: true }), /app\/prod\/web on 192\.0\.2\.1:\n {2}\+etc\/a\.conf/);
  const dry = deploymentDetail(deployment({ request: { kind: 'sync', trigger: 'api', dryRun: true } }), 0);
  assert.match(dry, /^Status: +succeeded \(dry run: nothing changed\)$/m);
  assert.match(dry, /app\/prod\/web on 192\.0\.2\.2:\n {2}\+etc\/a\.conf/);
});
