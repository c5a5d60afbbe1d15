// Table tests of the properties editor and the /modify request parser: other lines kept byte for byte, hostile input refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { editProperties, keyProblem, valueProblem } from '../../server/src/fssync/properties.js';
import { commitMessage, parseModifyRequest } from '../../server/src/fssync/modify-request.js';
import { classifyPushError } from '../../server/src/fssync/work-clone.js';
import { ValidationError } from '../../server/src/errors.js';

const FILE = [
  '# Billing service',
  '! legacy comment style',
  '',
  'server.port=8080',
  'db.url = jdbc:mysql://db:3306/billing',
  'db.user:billing',
  'feature.list=a,\\',
  '    b,\\',
  '    c',
  '# trailing comment',
  'timeout 30',
  '',
].join('\n');

describe('editProperties', () => {
  const cases: Array<{ name: string; text: string; set?: Record<string, string>; del?: string[]; want: string; changes: Array<[string, string]> }> = [
    {
      name: 'edits a value in place, keeping comments, blank lines and order',
      text: FILE, set: { 'server.port': '9090' },
      want: FILE.replace('server.port=8080', 'server.port=9090'), changes: [['server.port', 'updated']],
    },
    {
      name: 'keeps the separator style and spacing of the edited line',
      text: FILE, set: { 'db.url': 'jdbc:mysql://db2:3306/billing', 'db.user': 'svc' },
      want: FILE.replace('db.url = jdbc:mysql://db:3306/billing', 'db.url = jdbc:mysql://db2:3306/billing').replace('db.user:billing', 'db.user:svc'),
      changes: [['db.url', 'updated'], ['db.user', 'updated']],
    },
    {
      name: 'a whitespace-separated entry is found too',
      text: FILE, set: { timeout: '60' }, want: FILE.replace('timeout 30', 'timeout 60'), changes: [['timeout', 'updated']],
    },
    {
      name: 'replaces a continued value whole (all its physical lines)',
      text: FILE, set: { 'feature.list': 'x' }, want: FILE.replace('feature.list=a,\\\n    b,\\\n    c', 'feature.list=x'), changes: [['feature.list', 'updated']],
    },
    {
      name: 'adds new keys at the end, in request order',
      text: FILE, set: { 'new.one': '1', 'new.two': 'two words = fine: here' },
      want: `${FILE}new.one=1\nnew.two=two words = fine: here\n`, changes: [['new.one', 'added'], ['new.two', 'added']],
    },
    {
      name: 'adds a line break first when the file does not end with one',
      text: 'a=1', set: { b: '2' }, want: 'a=1\nb=2\n', changes: [['b', 'added']],
    },
    {
      name: 'keeps CRLF line endings and uses them for new lines',
      text: '# c\r\na=1\r\n', set: { a: '2', b: '3' }, want: '# c\r\na=2\r\nb=3\r\n', changes: [['a', 'updated'], ['b', 'added']],
    },
    {
      name: 'deletes every entry of a key, continuation lines included; comments stay',
      text: FILE, del: ['feature.list', 'db.user'],
      want: FILE.replace('feature.list=a,\\\n    b,\\\n    c\n', '').replace('db.user:billing\n', ''), changes: [['feature.list', 'deleted'], ['db.user', 'deleted']],
    },
    {
      name: 'deleting an absent key changes nothing',
      text: FILE, del: ['nope'], want: FILE, changes: [['nope', 'absent']],
    },
    {
      name: 'setting the same value is unchanged',
      text: FILE, set: { 'server.port': '8080' }, want: FILE, changes: [['server.port', 'unchanged']],
    },
    {
      name: 'a commented-out key is not an entry: the key is added',
      text: '#a=1\n', set: { a: '2' }, want: '#a=1\na=2\n', changes: [['a', 'added']],
    },
    {
      name: 'duplicate keys: every entry gets the value',
      text: 'a=1\nb=x\na=2\n', set: { a: '3' }, want: 'a=3\nb=x\na=3\n', changes: [['a', 'updated']],
    },
    {
      name: 'an escaped separator belongs to the key (and cannot match a requested key)',
      text: 'a\\=b=1\n', set: { a: '2' }, want: 'a\\=b=1\na=2\n', changes: [['a', 'added']],
    },
    {
      name: 'an empty file gets the new keys',
      text: '', set: { a: '1' }, want: 'a=1\n', changes: [['a', 'added']],
    },
    {
      name: 'an empty value is written as "key="',
      text: 'a=1\n', set: { a: '' }, want: 'a=\n', changes: [['a', 'updated']],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = editProperties(c.text, { set: c.set, delete: c.del });
      assert.equal(r.text, c.want);
      assert.equal(r.changed, c.want !== c.text);
      assert.deepEqual(r.changes.map((x) => [x.key, x.action]), c.changes);
    });
  }

  it('refuses hostile keys and values, and a key both set and deleted', () => {
    const bad: Array<[Record<string, string> | undefined, string[] | undefined, RegExp]> = [
      [{ 'a\nb': '1' }, undefined, /newlines/],
      [{ 'a=b': '1' }, undefined, /"="/],
      [{ 'a:b': '1' }, undefined, /":"/],
      [{ 'a b': '1' }, undefined, /whitespace/],
      [{ '#a': '1' }, undefined, /comment/],
      [{ '': '1' }, undefined, /non-empty/],
      [{ a: 'x\ny=2' }, undefined, /newlines/],
      [{ a: 'x\ry=2' }, undefined, /newlines/],
      [{ a: 'x\\' }, undefined, /backslash|"\\"/],
      [{ a: 'x\u0000' }, undefined, /control/],
      [undefined, ['a\r'], /newlines/],
      [{ a: '1' }, ['a'], /both set and deleted/],
    ];
    for (const [set, del, re] of bad) assert.throws(() => editProperties('a=1\n', { set, delete: del }), re, JSON.stringify({ set, del }));
  });

  it('checks keys and values as documented', () => {
    assert.equal(keyProblem('server.port'), null);
    assert.equal(keyProblem('a/b-c_d.e@f$g[0]'), null);
    assert.match(keyProblem('x'.repeat(257))!, /at most/);
    assert.equal(valueProblem('jdbc:mysql://h:3306/db?a=b&c=d'), null);
    assert.equal(valueProblem('C:\\\\'), null, 'an even run of backslashes is fine');
    assert.equal(valueProblem('tab\tinside'), null);
    assert.match(valueProblem(42)!, /string/);
  });
});

describe('parseModifyRequest', () => {
  const ok = { env: 'prod', app: 'billing', mod: 'tomcat', path: 'opt/billing/conf/app.properties', set: { a: '1' }, author: { name: 'Ada Ops', email: 'ada@example.com' } };

  it('accepts a full request and defaults the rest', () => {
    const r = parseModifyRequest({ ...ok, delete: ['b', 'b'], message: 'raise port' });
    assert.deepEqual(r, { ...ok, delete: ['b'], message: 'raise port', wait: false });
  });

  it('takes the unit from the URL and refuses a body that disagrees', () => {
    const { env, app, mod, ...rest } = ok;
    assert.equal(parseModifyRequest(rest, { env, app, mod }).mod, 'tomcat');
    assert.throws(() => parseModifyRequest({ ...rest, env: 'test' }, { env, app, mod }), /URL says/);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['absolute path', { ...ok, path: '/etc/passwd' }, /relative/],
    ['dot-dot path', { ...ok, path: 'opt/../../etc/passwd' }, /\.\./],
    ['dash segment', { ...ok, path: 'opt/-rf' }, /"-"/],
    ['newline in path', { ...ok, path: 'a\nb' }, /control/],
    ['env with slash', { ...ok, env: 'prod/x' }, /env/],
    ['mod dot-dot', { ...ok, mod: '..' }, /mod/],
    ['option-like app', { ...ok, app: '--upload-pack=x' }, /app/],
    ['no author', { ...ok, author: undefined }, /author/],
    ['author with angle brackets', { ...ok, author: { name: 'x <evil@x>', email: 'a@b.c' } }, /author\.name/],
    ['author name with newline', { ...ok, author: { name: 'x\ny', email: 'a@b.c' } }, /author\.name/],
    ['bad email', { ...ok, author: { name: 'x', email: 'nope' } }, /author\.email/],
    ['nothing to do', { ...ok, set: {} }, /nothing to do/],
    ['hostile key', { ...ok, set: { 'a=b': '1' } }, /key "a=b"/],
    ['hostile value', { ...ok, set: { a: '1\nevil=1' } }, /newlines/],
    ['value not a string', { ...ok, set: { a: 1 } }, /set/],
    ['set and delete', { ...ok, delete: ['a'] }, /both/],
    ['unknown field', { ...ok, force: true }, /unknown field/],
    ['not an object', 'a=1', /body/],
  ];
  for (const [name, body, re] of bad) {
    it(`refuses: ${name}`, () => {
      assert.throws(() => parseModifyRequest(body), (err: unknown) => err instanceof ValidationError && re.test(err.message));
    });
  }

  it('writes a commit message naming keys, never values', () => {
    const msg = commitMessage(parseModifyRequest({ ...ok, set: { 'db.password': 's3cret' }, delete: ['old'] }), 'tomcat/prod/billing');
    assert.match(msg, /modify tomcat\/prod\/billing\/opt\/billing\/conf\/app.properties/);
    assert.match(msg, /set db\.password\ndelete old/);
    assert.doesNotMatch(msg, /s3cret/);
  });
});

describe('classifyPushError', () => {
  const table: Array<[string, string | undefined]> = [
    [' ! [rejected]        HEAD -> main (fetch first)\nerror: failed to push some refs', 'moved'],
    [' ! [rejected]        HEAD -> main (non-fast-forward)', 'moved'],
    [' ! [remote rejected] HEAD -> main (failed to update ref)', 'moved'],
    [' ! [remote rejected] HEAD -> main (pre-receive hook declined)', 'refused'],
    ['fatal: Could not read from remote repository.', undefined],
  ];
  for (const [stderr, kind] of table) it(`${kind ?? 'unavailable'}: ${stderr.split('\n')[0]!.trim()}`, () => assert.equal(classifyPushError(stderr)?.kind, kind));
});
