// Which errors mean "the disk is full" (mapped to 507 by the error middleware).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isStorageFull } from '../../server/src/util/storage-full.js';

describe('isStorageFull', () => {
  const cases: Array<[string, unknown, boolean]> = [
    ['sqlite3 SQLITE_FULL', Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL', errno: 13 }), true],
    ['fs ENOSPC', Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }), true],
    ['quota', Object.assign(new Error('EDQUOT'), { code: 'EDQUOT' }), true],
    ['a child program saying so', new Error('git fetch failed: error: unable to write file: No space left on device'), true],
    ['wrapped as a cause', new Error('cannot stage', { cause: Object.assign(new Error('x'), { code: 'ENOSPC' }) }), true],
    ['another SQLite error', Object.assign(new Error('SQLITE_CONSTRAINT: UNIQUE'), { code: 'SQLITE_CONSTRAINT' }), false],
    ['a plain error', new Error('boom'), false],
    ['not an error', 'ENOSPC', false],
    ['nothing', undefined, false],
  ];
  for (const [name, err, want] of cases) it(name, () => assert.equal(isStorageFull(err), want));
});
