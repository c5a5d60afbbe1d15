// Task bodies: defaults, cron with seconds, time ranges, the endpoint allowlist, partial updates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTaskInput, requireCron, type TaskDefaults } from '../../server/src/essync/task-input.js';
import { timeRangeMs } from '../../server/src/essync/time-range.js';
import { ValidationError } from '../../server/src/errors.js';

const d: TaskDefaults = { endpoint: 'http://es.example.com:9200/', allowedEndpoints: ['https://es2.example.com/proxy'], indexPattern: 'metricbeat-*', timeRange: '30d' };
const fails = (body: unknown, field: string | undefined, re: RegExp, base?: any) =>
  assert.throws(() => parseTaskInput(body, d, base), (e: unknown) => e instanceof ValidationError && e.field === field && re.test(e.message), JSON.stringify(body));

test('a minimal body gets the defaults', () => {
  assert.deepEqual(parseTaskInput({ name: ' nightly ', cron: '0 0 2 * * *' }, d), {
    name: 'nightly', description: '', esEndpoint: null, indexPattern: 'metricbeat-*', cron: '0 0 2 * * *', timeRange: '30d', enabled: true, createdBy: null,
  });
});

test('every field is validated and named', () => {
  fails({ cron: '0 0 2 * * *' }, 'name', /non-empty string/);
  fails({ name: 'a\u0007b', cron: '0 0 2 * * *' }, 'name', /control characters/);
  fails({ name: 'x' }, 'cron', /cron expression/);
  fails({ name: 'x', cron: '*/5 * * * *' }, 'cron', /exactly 6 parts/);
  fails({ name: 'x', cron: '0 0 0 30 2 *' }, 'cron', /never fires/);
  fails({ name: 'x', cron: '61 * * * * *' }, 'cron', /second/);
  fails({ name: 'x', cron: '* * * * * *', timeRange: '30' }, 'timeRange', /m, h, d or w/);
  fails({ name: 'x', cron: '* * * * * *', timeRange: '400d' }, 'timeRange', /366d/);
  fails({ name: 'x', cron: '* * * * * *', indexPattern: 'Metricbeat/*' }, 'indexPattern', /lower-case/);
  fails({ name: 'x', cron: '* * * * * *', esEndpoint: 'http://evil.example.com:9200' }, 'esEndpoint', /allowedEndpoints/);
  fails({ name: 'x', cron: '* * * * * *', enabled: 'yes' }, 'enabled', /true or false/);
  fails({ name: 'x', cron: '* * * * * *', owner: 'me' }, 'owner', /unknown field/);
  fails([], undefined, /JSON object/);
});

test('endpoints: the default or an allowed one, stored normalised; null means the default', () => {
  assert.equal(parseTaskInput({ name: 'a', cron: '* * * * * *', esEndpoint: 'https://es2.example.com/proxy/' }, d).esEndpoint, 'https://es2.example.com/proxy');
  assert.equal(parseTaskInput({ name: 'a', cron: '* * * * * *', esEndpoint: 'http://es.example.com:9200' }, d).esEndpoint, 'http://es.example.com:9200');
  assert.equal(parseTaskInput({ name: 'a', cron: '* * * * * *', esEndpoint: null }, d).esEndpoint, null);
});

test('an update merges onto the stored task; createdBy cannot change', () => {
  const base = parseTaskInput({ name: 'a', cron: '0 * * * * *', createdBy: 'alice', timeRange: '7d' }, d);
  assert.deepEqual(parseTaskInput({ cron: '*/10 * * * * *', enabled: false }, d, base), { ...base, cron: '*/10 * * * * *', enabled: false });
  fails({ createdBy: 'bob' }, 'createdBy', /cannot change/, base);
});

test('cron with a time zone, and time ranges', () => {
  assert.equal(requireCron(' 0  */5 * * * * ', 'Asia/Shanghai'), '0 */5 * * * *');
  assert.equal(timeRangeMs('24h'), 86_400_000);
  assert.equal(timeRangeMs('2w'), 14 * 86_400_000);
  assert.equal(timeRangeMs('0d'), null);
  assert.equal(timeRangeMs('30D'), null);
});
