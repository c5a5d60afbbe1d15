// The dashboard's reads of deployment requests (db/attention.ts, db/matrix.ts) and the inventory facts templates read
// (db/host-facts.ts), on SQLite, or PostgreSQL under GITFLEET_TEST_STORE=postgres: each dialect's JSON and aggregate
// form must leave dry runs and host-limited deployments out the same way.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Db } from '../../server/src/db/connection.js';
import { heldUnits, pushesOfHost } from '../../server/src/db/attention.js';
import { finishHostPush, insertDeployment, insertHostPushes, upsertDeploymentUnit } from '../../server/src/db/deployments.js';
import { hostInfoByIp } from '../../server/src/db/host-facts.js';
import { matrixRows, unitTargets } from '../../server/src/db/matrix.js';
import { migrate } from '../../server/src/db/migrate.js';
import type { DeployRequest } from '../../server/src/deploy/types.js';
import { openTestDb } from '../helpers/store.js';
import { tempDir } from '../helpers/tmp.js';

describe('dashboard reads of deployment requests, per dialect', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let db: Db;
  const U = 'nginx/prod/shop';
  const IP = '10.0.0.1';
  const now = '2026-01-01T00:00:00.000Z';
  /** One deployment of U with one host push to IP, finished with `status`. */
  const deploy = async (request: Record<string, unknown>, commit: string, unitStatus: 'succeeded' | 'held', push: 'succeeded' | 'failed' | null) => {
    const id = await db.tx((q) => insertDeployment(q, { trigger: 'manual', branch: 'main', after: commit, request: { kind: 'sync', ...request } as unknown as DeployRequest }, now));
    await db.tx((q) => upsertDeploymentUnit(q, id, { unit: U, commit, status: unitStatus, reason: unitStatus === 'held' ? 'window closed' : null }, now));
    if (push) {
      const [hp] = await insertHostPushes(db, id, U, [{ ip: IP }]);
      await db.tx((q) => finishHostPush(q, hp!, { status: push, exitCode: push === 'failed' ? 1 : 0, reason: null, changes: [], stderrTail: null, attempts: 1, durationMs: 5 }, now));
    }
    return id;
  };

  before(async () => {
    tmp = await tempDir('gf-dash-reads-');
    db = await openTestDb(join(tmp.path, 'gitfleet.db'));
    await migrate(db);
  });
  after(async () => {
    await db?.close();
    await tmp?.cleanup();
  });

  it('the matrix and held units skip dry runs and host-limited deployments; a host\'s pushes flag the dry run', async () => {
    const real = await deploy({}, 'a'.repeat(40), 'succeeded', 'succeeded');
    const dry = await deploy({ dryRun: true }, 'b'.repeat(40), 'succeeded', 'failed');
    assert.ok(real > 0);
    assert.deepEqual((await matrixRows(db)).failed, [], 'the dry run\'s failure is not the host\'s state');
    const limited = await deploy({ dryRun: false, hosts: [IP] }, 'c'.repeat(40), 'held', 'failed');
    assert.deepEqual((await matrixRows(db)).failed, [{ unit: U, ip: IP }], 'a real host-limited push is the host\'s state');
    assert.equal((await unitTargets(db)).get(U), 'a'.repeat(40), 'neither the dry run nor the host-limited deployment moves the target');
    assert.deepEqual(await heldUnits(db), [], 'the host-limited hold is not the unit\'s latest whole-unit deployment');
    const pushes = await pushesOfHost(db, IP, 10);
    assert.deepEqual(pushes.map((p) => [p.deploymentId, p.dryRun]), [[limited, false], [dry, true], [real, false]]);

    const held = await deploy({ dryRun: false, hosts: null }, 'd'.repeat(40), 'held', null);
    assert.deepEqual(await heldUnits(db), [{ unit: U, deploymentId: held, commit: 'd'.repeat(40), kind: 'held', reason: 'window closed' }]);
    assert.equal((await unitTargets(db)).get(U), 'd'.repeat(40), 'an explicit hosts: null is a whole-unit deployment');
  });

  it('host facts: the apps come sorted in one column, hosts not stored are left out', async () => {
    const id = await db.insert("INSERT INTO hosts (ip, env, labels, source, created_at, updated_at) VALUES ('10.0.0.9', 'prod', '{\"dc\":\"a\"}', 'manual', ?, ?)", [now, now]);
    for (const app of ['web', 'api', 'db']) await db.run('INSERT INTO host_apps (host_id, app) VALUES (?, ?)', [id, app]);
    await db.run("INSERT INTO hosts (ip, env, source, created_at, updated_at) VALUES ('10.0.0.8', 'prod', 'manual', ?, ?)", [now, now]);
    const info = await hostInfoByIp(db, ['10.0.0.9', '10.0.0.8', '10.9.9.9']);
    assert.deepEqual([...info.keys()].sort(), ['10.0.0.8', '10.0.0.9']);
    assert.deepEqual([info.get('10.0.0.9')!.apps, info.get('10.0.0.9')!.labels, info.get('10.0.0.8')!.apps], [['api', 'db', 'web'], { dc: 'a' }, []]);
  });
});
