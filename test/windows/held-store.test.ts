// Held work in the store (SQLite, or PostgreSQL under GITFLEET_TEST_STORE=postgres): later holds of a unit join the held work instead of piling up, by the merge rules.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Db } from '../../server/src/db/connection.js';
import { openTestDb } from '../helpers/store.js';
import { migrate } from '../../server/src/db/migrate.js';
import { holdUnit, listHeld, releaseHeld } from '../../server/src/db/sync-windows.js';
import { tempDir } from '../helpers/tmp.js';

describe('held units store', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let db: Db;
  before(async () => {
    tmp = await tempDir('gf-held-');
    db = await openTestDb(join(tmp.path, 'gitfleet.db'));
    await migrate(db);
  });
  after(async () => {
    await db?.close();
    await tmp?.cleanup();
  });
  const hold = (h: { unit?: string; commit?: string | null; hosts?: string[] | null; trigger?: string; deploymentId: number }, now = `2026-01-01T00:00:0${h.deploymentId}.000Z`) =>
    db.tx((q) => holdUnit(q, { unit: 'm/prod/web', commit: null, hosts: null, trigger: 'gitlab', reason: `r${h.deploymentId}`, ...h }, now));
  const rows = async () => (await listHeld(db)).map((r) => ({ unit: r.unit, commit: r.commit, hosts: r.hosts, trigger: r.trigger, ids: r.deploymentIds, reason: r.reason }));

  it('host-limited holds merge hosts at one commit, stay apart at another, and a whole-unit head hold absorbs them all', async () => {
    await hold({ trigger: 'converge', hosts: ['10.0.0.2'], deploymentId: 1 });
    await hold({ trigger: 'converge', hosts: ['10.0.0.1', '10.0.0.2'], deploymentId: 2 });
    await hold({ trigger: 'self-heal', commit: 'c'.repeat(40), hosts: ['10.0.0.3'], deploymentId: 3 });
    assert.deepEqual(await rows(), [
      { unit: 'm/prod/web', commit: null, hosts: ['10.0.0.1', '10.0.0.2'], trigger: 'converge', ids: [1, 2], reason: 'r2' },
      { unit: 'm/prod/web', commit: 'c'.repeat(40), hosts: ['10.0.0.3'], trigger: 'self-heal', ids: [3], reason: 'r3' },
    ]);
    await hold({ deploymentId: 4 });
    assert.deepEqual(await rows(), [{ unit: 'm/prod/web', commit: null, hosts: null, trigger: 'gitlab', ids: [1, 2, 3, 4], reason: 'r4' }]);
    // Anything later joins the whole-unit hold (it deploys the head to every host).
    await hold({ trigger: 'self-heal', commit: 'd'.repeat(40), hosts: ['10.0.0.1'], deploymentId: 5 });
    await hold({ trigger: 'poller', deploymentId: 6 });
    assert.deepEqual(await rows(), [{ unit: 'm/prod/web', commit: null, hosts: null, trigger: 'gitlab', ids: [1, 2, 3, 4, 5, 6], reason: 'r6' }]);
    await hold({ unit: 'm/prod/api', deploymentId: 6 });
    assert.equal((await rows()).length, 2, 'units are held apart');
  });

  it('a release deletes only holds not joined since they were read', async () => {
    const [api, web] = await listHeld(db);
    await hold({ deploymentId: 7 }, '2026-01-01T00:00:09.000Z'); // web joined after the read
    await db.tx((q) => releaseHeld(q, [api!, web!]));
    assert.deepEqual((await rows()).map((r) => [r.unit, r.ids]), [['m/prod/web', [1, 2, 3, 4, 5, 6, 7]]]);
  });
});
