// IP lists of manual runs: JSON arrays and uploaded files (lines or CSV with an ip column).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIp, parseIpFile, parseIpList } from '../../server/src/essync/ip-list.js';
import { ValidationError } from '../../server/src/errors.js';

const fails = (fn: () => unknown, field: string, re: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof ValidationError && e.field === field && re.test(e.message));

test('canonicalIp', () => {
  const table: Array<[string, string | null]> = [
    ['192.0.2.1', '192.0.2.1'], [' 192.0.2.1 ', '192.0.2.1'], ['2001:DB8:0:0::1', '2001:db8::1'],
    ['fe80::1%eth0', null], ['192.0.2.256', null], ['010.0.0.1', null], ['host-1', null], ['', null],
  ];
  for (const [input, want] of table) assert.equal(canonicalIp(input), want, input);
});

test('parseIpList: de-duplicates in order, rejects non-IPs naming their position, caps the count', () => {
  assert.deepEqual(parseIpList(['192.0.2.2', '192.0.2.1', '192.0.2.2', '2001:DB8::1'], 10), ['192.0.2.2', '192.0.2.1', '2001:db8::1']);
  fails(() => parseIpList(['192.0.2.1', 'not-an-ip', 7], 10), 'ips', /2 value\(s\).*\[1\]: "not-an-ip", \[2\]: "7"/);
  fails(() => parseIpList([], 10), 'ips', /at least one/);
  fails(() => parseIpList('192.0.2.1', 10), 'ips', /must be an array/);
  fails(() => parseIpList(undefined, 10), 'ips', /must be an array/);
  fails(() => parseIpList(['192.0.2.1', '192.0.2.2', '192.0.2.3'], 2), 'ips', /at most 2/);
});

test('parseIpFile: one IP per line, blank lines and # comments skipped, CRLF and BOM tolerated', () => {
  const file = Buffer.from('\uFEFF# hosts to refresh\r\n192.0.2.1\r\n\r\n  192.0.2.2  \n#192.0.2.9\n192.0.2.1\n');
  assert.deepEqual(parseIpFile(file, 100), ['192.0.2.1', '192.0.2.2']);
});

test('parseIpFile: CSV with an ip column (any position, any case, quoted)', () => {
  assert.deepEqual(parseIpFile(Buffer.from('hostname,IP,env\nweb-1,192.0.2.1,prod\n"web,2","192.0.2.2",prod\n'), 100), ['192.0.2.1', '192.0.2.2']);
  assert.deepEqual(parseIpFile(Buffer.from('ip\n192.0.2.7\n'), 100), ['192.0.2.7']);
});

test('parseIpFile: errors name the file field and where the bad entry is', () => {
  fails(() => parseIpFile(Buffer.from(''), 100), 'file', /empty/);
  fails(() => parseIpFile(Buffer.from('\n  \n# nothing\n'), 100), 'file', /empty/);
  fails(() => parseIpFile(Buffer.from('ip\n'), 100), 'file', /empty/);
  fails(() => parseIpFile(Buffer.from('192.0.2.1\nweb-1\n'), 100), 'file', /line 2: "web-1"/);
  fails(() => parseIpFile(Buffer.from('hostname,addr\nweb-1,192.0.2.1\n'), 100), 'file', /no "ip" column/);
  fails(() => parseIpFile(Buffer.from('name,ip\nweb-1,nope\n'), 100), 'file', /CSV row 1: "nope"/);
  fails(() => parseIpFile(Buffer.from([0x31, 0x00, 0x32]), 100), 'file', /text file/);
});
