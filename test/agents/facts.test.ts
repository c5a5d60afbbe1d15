// PURE: host matching (identity, then IP) and the merge of a report onto stored facts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeFacts, planMatch, type MatchPlan } from '../../server/src/agents/facts.js';
import { parseReport, type AgentReport } from '../../server/src/agents/report-schema.js';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

describe('planMatch', () => {
  const base = { ip: '10.0.0.5', autoRegister: true, identityConflict: 'reject' as const };
  const cases: Array<[string, Parameters<typeof planMatch>[0], MatchPlan['action'], Partial<MatchPlan>]> = [
    ['identity known: that host, even at another address', { ...base, identity: A, byIdentity: { id: 1, ip: '10.0.0.9', identity: A }, byIp: { id: 2, ip: '10.0.0.5', identity: null } }, 'update', { hostId: 1, matched: 'identity', setIdentity: null } as Partial<MatchPlan>],
    ['identity unknown, IP known without identity: pin it', { ...base, identity: A, byIp: { id: 2, ip: '10.0.0.5', identity: null } }, 'update', { hostId: 2, matched: 'ip', setIdentity: A } as Partial<MatchPlan>],
    ['no identity reported: match by IP, pin nothing', { ...base, identity: null, byIp: { id: 2, ip: '10.0.0.5', identity: B } }, 'update', { hostId: 2, matched: 'ip', setIdentity: null } as Partial<MatchPlan>],
    ['IP pinned to another identity: refused', { ...base, identity: A, byIp: { id: 2, ip: '10.0.0.5', identity: B } }, 'reject', { reason: 'identity_conflict' } as Partial<MatchPlan>],
    ['IP pinned to another identity, policy replace: re-pinned', { ...base, identityConflict: 'replace', identity: A, byIp: { id: 2, ip: '10.0.0.5', identity: B } }, 'update', { hostId: 2, setIdentity: A } as Partial<MatchPlan>],
    ['nothing matches: a new host', { ...base, identity: A }, 'create', {}],
    ['nothing matches, autoRegister off: refused', { ...base, autoRegister: false, identity: A }, 'reject', { reason: 'unknown_host' } as Partial<MatchPlan>],
  ];
  for (const [name, input, action, expected] of cases) {
    it(name, () => {
      const plan = planMatch(input);
      assert.equal(plan.action, action);
      for (const [k, v] of Object.entries(expected)) assert.deepEqual((plan as Record<string, unknown>)[k], v, k);
    });
  }
});

function report(plugins: Record<string, unknown>, hostname = 'web-1'): AgentReport {
  return parseReport({
    schema: 1, collector: { version: '1.0.0', via: 'agent' }, collectedAt: '2026-01-01T00:00:00Z', hostname, ip: '10.0.0.5',
    identity: { id: A, pinnedHostname: 'web-1', pinnedAt: '2026-01-01T00:00:00Z', new: false }, plugins,
  });
}

describe('mergeFacts', () => {
  const memory = { status: 'ok', data: { totalBytes: 1024, availableBytes: 512, freeBytes: 256, swapTotalBytes: 0, swapFreeBytes: 0 } };
  it('puts each plugin\'s data at top level with the metadata', () => {
    const f = mergeFacts(null, report({ memory }), 'agent', '2026-01-01T00:00:05Z');
    assert.deepEqual(f.memory, memory.data);
    assert.equal(f.via, 'agent');
    assert.equal(f.hostname, 'web-1');
    assert.deepEqual(f.identity, { id: A, pinnedHostname: 'web-1', pinnedAt: '2026-01-01T00:00:00Z' });
    assert.deepEqual(f.errors, {});
  });
  it('keeps the last good data of a plugin that failed, with the error and since when', () => {
    const first = mergeFacts(null, report({ memory }), 'ssh', 't1');
    const second = mergeFacts(first, report({ memory: { status: 'error', error: 'boom' } }, 'web-2'), 'agent', 't2');
    assert.deepEqual(second.memory, memory.data);
    assert.deepEqual(second.errors, { memory: { message: 'boom', since: 't2' } });
    assert.equal(second.hostname, 'web-2');
    const third = mergeFacts(second, report({ memory: { status: 'error', error: 'boom again' } }), 'agent', 't3');
    assert.deepEqual(third.errors.memory, { message: 'boom again', since: 't2' });
    const healed = mergeFacts(third, report({ memory }), 'agent', 't4');
    assert.deepEqual(healed.errors, {});
  });
  it('keeps plugins the report did not run', () => {
    const first = mergeFacts(null, report({ memory }), 'ssh', 't1');
    const second = mergeFacts(first, report({ board: { status: 'error', error: 'no DMI' } }), 'ssh', 't2');
    assert.deepEqual(second.memory, memory.data);
    assert.equal('board' in second, false);
  });
});
