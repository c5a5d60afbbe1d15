// Which hosts a run covers and what it concludes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answeredResult, chunk, failedResult, notInPoolResult, planTargets, summarize } from '../../server/src/essync/plan.js';
import type { HostMetrics } from '../../server/src/essync/types.js';

const inventory = [{ ip: '192.0.2.1', hostname: 'a' }, { ip: '2001:DB8::1', hostname: 'b' }, { ip: '192.0.2.3', hostname: null }];
const m = (over: Partial<HostMetrics> = {}): HostMetrics => ({ cpuMax: 50, cpuAvg: 10, memMax: null, memAvg: null, diskMax: null, diskAvg: null, dataPoints: 3, lastSampleAt: null, esHostname: 'es-name', ...over });

test('a scheduled run covers every inventory host (IPv6 in canonical form)', () => {
  const { targets, notInPool } = planTargets(null, inventory);
  assert.deepEqual(targets.map((t) => [t.ip, t.storedIp]), [['192.0.2.1', '192.0.2.1'], ['2001:db8::1', '2001:DB8::1'], ['192.0.2.3', '192.0.2.3']]);
  assert.deepEqual(notInPool, []);
});

test('a manual run splits requested IPs into inventory hosts and not-in-pool', () => {
  const { targets, notInPool } = planTargets(['192.0.2.3', '198.51.100.9', '2001:db8::1', '192.0.2.3'], inventory);
  assert.deepEqual(targets.map((t) => t.ip), ['192.0.2.3', '2001:db8::1']);
  assert.deepEqual(notInPool, ['198.51.100.9']);
});

test('answered hosts: bucket → success, no bucket or no metric at all → no_data; hostname from inventory, else ES', () => {
  const [t1, , t3] = planTargets(null, inventory).targets;
  assert.equal(answeredResult(t1!, m()).status, 'success');
  assert.equal(answeredResult(t1!, m()).hostname, 'a');
  assert.equal(answeredResult(t3!, m()).hostname, 'es-name');
  assert.equal(answeredResult(t1!, undefined).status, 'no_data');
  assert.equal(answeredResult(t1!, m({ cpuMax: null, cpuAvg: null })).status, 'no_data');
});

test('run status: failed hosts make it partial when some succeeded, failed when none did', () => {
  const [t1, t2] = planTargets(null, inventory).targets;
  const ok = answeredResult(t1!, m());
  const noData = answeredResult(t2!, undefined);
  const bad = failedResult(t2!, 'boom');
  const out = notInPoolResult('198.51.100.9');
  assert.equal(summarize([ok, noData, out], null).status, 'success');
  assert.equal(summarize([], null).status, 'success');
  assert.deepEqual(summarize([ok, bad, out], 'boom'), { totalHosts: 3, successCount: 1, failedCount: 1, notInPoolCount: 1, noDataCount: 0, status: 'partial' });
  assert.equal(summarize([bad, noData], 'boom').status, 'failed');
  assert.equal(summarize([out], 'no client').status, 'failed');
});

test('chunk', () => {
  assert.deepEqual(chunk([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  assert.deepEqual(chunk([], 3), []);
});
