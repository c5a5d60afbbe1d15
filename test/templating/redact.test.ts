// The redactor other parts use on text that leaves the server (dry-run content diffs, reasons, hook output).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRedactor, MASK, NO_SECRETS, secretLeaves } from '../../server/src/templating/redact.js';

describe('redactor', () => {
  const r = createRedactor({ secretFiles: ['etc/app/db.conf'], secretValues: [...secretLeaves({ db: { password: 'hunter2-long', port: 5432 } }), 'ab', 'token=file-line-secret'] });

  it('masks a decrypted file whole; its digest differs when its content does', () => {
    const a = r.redact('etc/app/db.conf', 'token=file-line-secret\n');
    const b = r.redact('etc/app/db.conf', 'token=another-one\n');
    assert.match(a, /^\[secret file: content masked, digest [0-9a-f]{12}\]\n$/);
    assert.notEqual(a, b);
    assert.equal(r.redact('etc/app/db.conf', 'token=file-line-secret\n'), a, 'stable within one redactor');
    assert.equal(r.isSecretFile('etc/app/db.conf'), true);
  });

  it('masks secret values inside other files and text, in clear and base64, longest first', () => {
    assert.equal(r.redact('etc/app/app.ini', 'user=app\npassword=hunter2-long\nport=5432\n'), `user=app\npassword=${MASK}\nport=${MASK}\n`);
    assert.equal(Buffer.from('hunter2-long').toString('base64'), 'aHVudGVyMi1sb25n');
    assert.equal(r.mask('Authorization: Basic aHVudGVyMi1sb25n'), `Authorization: Basic ${MASK}`);
    assert.equal(r.mask('line: token=file-line-secret here'), `line: ${MASK} here`);
    assert.equal(r.mask('ab stays: too short to mask'), 'ab stays: too short to mask');
    assert.equal(NO_SECRETS.redact('x', 'hunter2-long'), 'hunter2-long');
  });
});
