// The dashboard's page logic on the API's real shapes: progress, routes, dates and durations, the matrix, live keys.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildMatrix } from '../../server/src/dashboard/matrix.js';
import { openDb } from '../../server/src/db/connection.js';
import { insertDeployment } from '../../server/src/db/deployments.js';
import { matrixRows } from '../../server/src/db/matrix.js';
import { migrate } from '../../server/src/db/migrate.js';
import { tempDir } from '../helpers/tmp.js';
import { formatDateTime, formatDuration } from '../../server/ui/src/lib/format.js';
import { facets, viewMatrix } from '../../server/ui/src/lib/matrix.js';
import { ancestors, buildTree, initiallyOpen, type TreeNode } from '../../server/ui/src/lib/tree.js';
import { hostsByUnit, progressOf } from '../../server/ui/src/lib/progress.js';
import { href, parseRoute, type Route } from '../../server/ui/src/lib/route.js';
import type { HostPushView } from '../../server/ui/src/lib/types.js';
import { keysFor } from '../../server/ui/src/live.js';
import type { DeploymentView as ServerDeploymentView, HostPushView as ServerHostPushView } from '../../server/src/deploy/types.js';
import type { Host as ServerHost } from '../../server/src/db/hosts.js';
import type { DeploymentView, Host } from '../../server/ui/src/lib/types.js';

const host = (ip: string, status: HostPushView['status'], unit = 'nginx/prod/shop'): HostPushView => ({
  unit, ip, hostname: null, status, exitCode: null, reason: null, filesChanged: null, changes: [], stderrTail: null, attempts: 0, durationMs: null, startedAt: null, finishedAt: null,
});

describe('dashboard logic', () => {
  it('the UI host row type is the server one (a renamed field fails to compile)', () => {
    // Both ways: the UI reads no field the server lacks, and knows every status the server sends.
    const s: ServerHostPushView = host('10.0.0.1', 'running');
    const u: HostPushView = s;
    assert.equal(u.ip, '10.0.0.1');
    // The server's records fit what the pages read (compile-time: a field the UI reads and the server lacks fails).
    const asUi = (h: ServerHost, d: ServerDeploymentView): [Host, DeploymentView] => [h, d];
    assert.equal(typeof asUi, 'function');
  });

  it('progress counts finished hosts and failures so far', () => {
    const p = progressOf([host('a', 'succeeded'), host('b', 'failed'), host('c', 'running'), host('d', 'pending'), host('e', 'skipped'), host('f', 'failed'), host('g', 'aborted')]);
    assert.deepEqual(p, { total: 7, done: 5, failed: 2, running: 1, succeeded: 1, skipped: 2 });
    assert.deepEqual(progressOf([]), { total: 0, done: 0, failed: 0, running: 0, succeeded: 0, skipped: 0 });
    const by = hostsByUnit([host('a', 'succeeded', 'x/y/z'), host('b', 'failed'), host('c', 'failed', 'x/y/z')]);
    assert.deepEqual([...by].map(([u, hs]) => [u, hs.map((h) => h.ip)]), [['x/y/z', ['a', 'c']], ['nginx/prod/shop', ['b']]]);
  });

  it('routes round-trip and refuse what is not a route', () => {
    const routes: Route[] = [{ page: 'overview' }, { page: 'deployment', id: 12 }, { page: 'matrix' }, { page: 'hosts' }, { page: 'host', id: 3 },
      { page: 'units' }, { page: 'unit', unit: 'nginx/prod/shop' }, { page: 'hostSync' }, { page: 'esSync' }];
    for (const r of routes) assert.deepEqual(parseRoute(href(r)), r);
    for (const bad of ['#/nope', '#/units/a/b', '#/units/a/../c', '#/hosts/x', '#/units/a/b/c/d']) assert.equal(parseRoute(bad).page, 'notFound', bad);
    assert.deepEqual(parseRoute('#/deployments/abc'), { page: 'overview' });
  });

  it('dates follow the locale and time zone; durations read as a human says them', () => {
    const iso = '2026-03-01T16:05:09Z';
    assert.equal(formatDateTime(iso, 'en-US', 'UTC'), 'Mar 1, 2026, 4:05:09 PM');
    assert.equal(formatDateTime(iso, 'zh-CN', 'Asia/Shanghai'), '2026年3月2日 00:05:09');
    assert.equal(formatDateTime(null, 'en'), '—');
    assert.equal(formatDateTime('garbage', 'en'), '—');
    const table: Array<[number | null, string, string]> = [
      [850, 'en', '850 ms'], [2500, 'en', '2.5 sec'], [65_000, 'en', '1 min 5 sec'], [3_725_000, 'en', '1 hr 2 min'], [null, 'en', '—'],
      [65_000, 'zh-CN', '1分钟 5秒'], [850, 'zh-CN', '850毫秒'],
    ];
    for (const [ms, loc, want] of table) assert.equal(formatDuration(ms, loc), want, `${ms} ${loc}`);
  });

  it('the matrix (real SQLite): failed beats drifted beats behind; columnar cells; filters by mod, env, app, host and state', async () => {
    const dir = await tempDir('gf-matrix-');
    const db = await openDb(join(dir.path, 'm.db'));
    try {
      await migrate(db);
      const now = '2026-01-02';
      const dep = await insertDeployment(db, { trigger: 'api', branch: 'main', request: { kind: 'sync', trigger: 'api' } as never }, now);
      const dry = await insertDeployment(db, { trigger: 'api', branch: 'main', request: { kind: 'sync', trigger: 'api', dryRun: true } as never }, now);
      const held: Array<[string, string, string, string]> = [
        ['nginx/prod/shop', '10.0.0.2', 'c2', '2026-01-02'], ['nginx/prod/shop', '10.0.0.10', 'c1', '2026-01-01'],
        ['nginx/prod/shop', '10.0.0.3', 'c2', '2026-01-02'], ['tomcat/prod/billing', '10.0.0.3', 'c1', '2026-01-01'],
        ['nginx/prod/shop', '10.0.0.5', 'c2', '2026-01-02'],
      ];
      for (const [unit, ip, c, at] of held) await db.run('INSERT INTO unit_hosts (unit, ip, commit_sha, deployed_at, deployment_id) VALUES (?, ?, ?, ?, ?)', [unit, ip, c, at, dep]);
      await db.run("INSERT INTO host_pushes (deployment_id, unit, ip, status, reason) VALUES (?, 'nginx/prod/shop', '10.0.0.4', 'failed', 'unreachable')", [dep]);
      // A dry run's failure changes nothing on the host: 10.0.0.5 stays in sync.
      await db.run("INSERT INTO host_pushes (deployment_id, unit, ip, status, reason) VALUES (?, 'nginx/prod/shop', '10.0.0.5', 'failed', 'x')", [dry]);
      await db.run("INSERT INTO drift_status (unit, ip, state, checked_at) VALUES ('nginx/prod/shop', '10.0.0.3', 'drifted', '2026-01-03')");
      // Older than the push: stale, not counted.
      await db.run("INSERT INTO drift_status (unit, ip, state, checked_at) VALUES ('tomcat/prod/billing', '10.0.0.3', 'drifted', '2025-12-31')");
      await db.run("INSERT INTO hosts (ip, hostname, env, created_at, updated_at) VALUES ('10.0.0.3', 'web3', 'prod', ?, ?)", [now, now]);
      const unitCommits = new Map<string, string | null>([['nginx/prod/shop', 'c2'], ['tomcat/prod/billing', 'c1']]);
      const m = buildMatrix(await matrixRows(db), unitCommits);
      assert.deepEqual(m.ips, ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.10'], 'numeric address order');
      assert.equal(m.state.length, m.ips.length * m.units.length);
      assert.equal(m.hostnames[1], 'web3');
      const state = (unit: string, ip: string) => {
        const i = m.ips.indexOf(ip) * m.units.length + m.units.findIndex((u) => u.unit === unit);
        return m.state[i]! < 0 ? null : [m.commit[i]! >= 0 ? m.commits[m.commit[i]!] : null, m.states[m.state[i]!]];
      };
      assert.deepEqual(state('nginx/prod/shop', '10.0.0.2'), ['c2', 'in_sync']);
      assert.deepEqual(state('nginx/prod/shop', '10.0.0.10'), ['c1', 'behind']);
      assert.deepEqual(state('nginx/prod/shop', '10.0.0.3'), ['c2', 'drifted']);
      assert.deepEqual(state('nginx/prod/shop', '10.0.0.4'), [null, 'failed']);
      assert.deepEqual(state('nginx/prod/shop', '10.0.0.5'), ['c2', 'in_sync']);
      assert.deepEqual(state('tomcat/prod/billing', '10.0.0.3'), ['c1', 'in_sync']);
      assert.equal(state('tomcat/prod/billing', '10.0.0.2'), null, 'no cell');

      const full = { head: null, ...m, states: [...m.states] };
      assert.deepEqual(facets(full), { mod: ['nginx', 'tomcat'], env: ['prod'], app: ['billing', 'shop'] });
      const all = viewMatrix(full, {});
      assert.equal(all.rows.length, 5);
      const r3 = all.rows.findIndex((r) => r.ip === '10.0.0.3');
      assert.deepEqual([0, 1].map((c) => all.cell(r3, c)?.state), ['drifted', 'in_sync']);
      const tom = viewMatrix(full, { mod: 'tomcat' });
      assert.deepEqual(tom.rows.map((r) => r.ip), ['10.0.0.3']);
      assert.deepEqual(tom.cell(0, 0), { state: 'in_sync', commit: 'c1' }, 'a filtered view reads its own columns');
      assert.deepEqual(viewMatrix(full, { host: 'web' }).rows.map((r) => r.ip), ['10.0.0.3']);
      assert.deepEqual(viewMatrix(full, { state: 'behind' }).rows.map((r) => r.ip), ['10.0.0.10']);
      assert.deepEqual(viewMatrix(full, { app: 'shop', state: 'failed' }).rows.map((r) => r.ip), ['10.0.0.4']);
    } finally {
      await db.close();
      await dir.cleanup();
    }
  });

  it('the unit file tree: folders first, nested, sorted; a selected file\'s folders; small units start open', () => {
    const files = ['etc/nginx/conf.d/shop.conf', '.gitfleet.yaml', 'etc/nginx/nginx.conf', 'bin/run', 'etc/nginx/conf.d/a.conf', 'README'];
    const tree = buildTree(files);
    const show = (n: TreeNode[]): unknown[] => n.map((x) => (x.children ? { [x.name + '/']: show(x.children) } : x.name));
    assert.deepEqual(show(tree), [{ 'bin/': ['run'] }, { 'etc/': [{ 'nginx/': [{ 'conf.d/': ['a.conf', 'shop.conf'] }, 'nginx.conf'] }] }, '.gitfleet.yaml', 'README']);
    assert.equal(tree[1]!.children![0]!.children![0]!.children![1]!.path, 'etc/nginx/conf.d/shop.conf');
    assert.deepEqual(ancestors('etc/nginx/conf.d/shop.conf'), ['etc', 'etc/nginx', 'etc/nginx/conf.d']);
    assert.deepEqual(ancestors('README'), []);
    assert.deepEqual([...initiallyOpen(files)].sort(), ['bin', 'etc', 'etc/nginx', 'etc/nginx/conf.d']);
    assert.equal(initiallyOpen(files, 3).size, 0, 'a large unit starts closed');
    // A file and a folder of the same name at one level stay two nodes.
    assert.deepEqual(show(buildTree(['x', 'x/y'])), [{ 'x/': ['y'] }, 'x']);
  });

  it('each live event marks the queries it changes stale', () => {
    assert.deepEqual(keysFor({ type: 'deployment', data: { id: 7, status: 'running' } }), [['deployments'], ['deployment', 7], ['units']]);
    assert.deepEqual(keysFor({ type: 'host', data: { deploymentId: 7, unit: 'a/b/c', ip: '10.0.0.1', status: 'running' } }), [['deployment', 7]]);
    assert.deepEqual(keysFor({ type: 'host', data: { deploymentId: 7, unit: 'a/b/c', ip: '10.0.0.1', status: 'failed' } }), [['deployment', 7], ['matrix'], ['unit', 'a/b/c'], ['hosts']]);
    assert.deepEqual(keysFor({ type: 'drift', data: { unit: 'a/b/c' } }), [['units'], ['matrix'], ['unit', 'a/b/c']]);
    assert.deepEqual(keysFor({ type: 'window', data: { change: 'held', deploymentId: 7, units: ['a/b/c'] } }), [['windows'], ['units'], ['deployments']]);
    assert.deepEqual(keysFor({ type: 'hostsync.run', data: {} }), [['hostSync'], ['hosts']]);
    assert.deepEqual(keysFor({ type: 'essync.run', data: {} }), [['esSync']]);
    assert.deepEqual(keysFor({ type: 'bogus', data: {} }), []);
  });
});
