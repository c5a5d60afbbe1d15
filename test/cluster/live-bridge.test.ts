// Live events across nodes: two real gitfleet servers on one PostgreSQL database; a dashboard's event stream on one
// sees the other's changes once (no echo, no duplicate) and fast; a big event travels cut to its ids; a dropped
// LISTEN connection makes the stream tell its clients to re-read.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { LocalChannel } from '../../server/src/cluster/channel.js';
import { decodeLive, encodeBatch, encodeEvent, startLiveBridge } from '../../server/src/cluster/live-bridge.js';
import { LiveBus, type LiveEvent } from '../../server/src/events/live-bus.js';
import { createLogger } from '../../server/src/log.js';
import { requirePostgres, testPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

interface Frame { id?: string; type: string; data: any; seenAt: number }

/** Read an SSE stream into `frames` (with the time each arrived) until stopped. */
function sse(url: string, headers: Record<string, string> = {}) {
  const frames: Frame[] = [];
  const ctl = new AbortController();
  const done = (async () => {
    const res = await fetch(url, { headers, signal: ctl.signal });
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body!) {
        buf += dec.decode(chunk as Uint8Array, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const id = /^id: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data) { const p = JSON.parse(data); frames.push({ id, type: p.type, data: p.data, seenAt: Date.now() }); }
        }
      }
    } catch { /* aborted */ }
  })();
  return { frames, stop: async () => { ctl.abort(); await done; } };
}

const waitFrame = (what: string, frames: Frame[], pred: (f: Frame) => boolean) =>
  until(what, async () => frames.find(pred), 10_000);

test('the wire form: events in order, small data as is, too big cut to its ids; foreign payloads are ignored', () => {
  const small = { type: 'host' as const, at: '2026-12-06T22:00:00.000Z', data: { deploymentId: 3, unit: 'nginx/prod/shop', ip: '10.0.0.1', status: 'ok' } };
  const big = { type: 'drift' as const, at: small.at, data: { unit: 'nginx/prod/shop', drifted: 3, hosts: 5000, pad: 'x'.repeat(9000), ip: 'y'.repeat(300) } };
  const cut = encodeEvent(big);
  assert.ok(Buffer.byteLength(cut) < 8000);
  const wire = encodeBatch('n1', [encodeEvent(small), cut]);
  assert.deepEqual(decodeLive(wire), { node: 'n1', events: [small, { ...big, data: { truncated: true, unit: 'nginx/prod/shop' } }] }, 'ids kept, long values and other fields gone');
  assert.deepEqual(decodeLive('{"node":"n2","resync":true}'), { node: 'n2', resync: true });
  assert.deepEqual(decodeLive('{"node":"n","events":[{"type":"resync","at":"x","data":{}},{"type":"host","at":"x","data":[]},{"type":"unit","at":"x","data":{"a":1}}]}'),
    { node: 'n', events: [{ type: 'unit', at: 'x', data: { a: 1 } }] }, 'unknown types and malformed events left out');
  for (const bad of ['', 'null', '[]', '{"events":[]}', '{"node":"n","type":"host","at":"x","data":{}}', '{"node":"n","resync":1}']) {
    assert.equal(decodeLive(bad), null, bad);
  }
});

test('two bridges on one channel: each bus gets the other\'s events once, marked remote, with their time; nothing echoes', async () => {
  const channel = new LocalChannel(); // stands in for the shared database: every bridge hears every notification
  const log = createLogger('silent');
  const busA = new LiveBus(100);
  const busB = new LiveBus(100);
  const seenA: LiveEvent[] = [];
  const seenB: LiveEvent[] = [];
  busA.subscribe((e) => seenA.push(e));
  busB.subscribe((e) => seenB.push(e));
  const bridgeA = startLiveBridge({ bus: busA, channel, node: 'node-a', log });
  const bridgeB = startLiveBridge({ bus: busB, channel, node: 'node-b', log });
  const sent = busA.publish('deployment', { id: 7, status: 'running' });
  busA.resync('a local matter'); // about A's own listening: never sent
  busB.publish('unit', { deploymentId: 7, unit: 'nginx/prod/shop', status: 'ok' });
  await until('both relayed', async () => (seenA.length === 3 && seenB.length === 2 ? true : undefined), 5000);
  await new Promise((r) => setTimeout(r, 50)); // room for an echo to show up
  assert.deepEqual(seenB.map((e) => [e.type, e.remote ?? 'local']), [['unit', 'local'], ['deployment', 'node-a']]);
  const relayed = seenB.find((e) => e.type === 'deployment')!;
  assert.deepEqual(relayed.data, { id: 7, status: 'running' });
  assert.equal(relayed.at, sent.at);
  assert.deepEqual(seenA.map((e) => [e.type, e.remote ?? 'local']), [['deployment', 'local'], ['resync', 'local'], ['unit', 'node-b']]);
  assert.deepEqual(bridgeA.counts, { sent: 1, received: 1, dropped: 0, notifications: 1 });
  assert.deepEqual(bridgeB.counts, { sent: 1, received: 1, dropped: 0, notifications: 1 });
  bridgeA.stop();
  bridgeB.stop();
  await channel.close();
});

test('events queued beyond the bound are dropped and the other nodes told to resync', async () => {
  const channel = new LocalChannel();
  const log = createLogger('silent');
  const busA = new LiveBus(100);
  const busB = new LiveBus(100);
  const seenB: LiveEvent[] = [];
  busB.subscribe((e) => seenB.push(e));
  const bridgeA = startLiveBridge({ bus: busA, channel, node: 'node-a', log });
  const bridgeB = startLiveBridge({ bus: busB, channel, node: 'node-b', log });
  // Synchronously: the first goes out at once, the next 10,001 pile up behind its NOTIFY and pass the bound.
  for (let i = 0; i < 10_002; i++) busA.publish('host', { deploymentId: 1, ip: `10.1.${i >> 8}.${i & 255}`, status: 'ok' });
  busA.publish('deployment', { id: 1, status: 'succeeded' }); // queued after the drop: still delivered
  await until('resync and the last event on B', async () => (seenB.some((e) => e.type === 'deployment') ? true : undefined), 5000);
  assert.deepEqual(seenB.map((e) => e.type), ['host', 'resync', 'deployment']);
  assert.match(String(seenB[1]!.data.reason), /node node-a dropped events/);
  assert.deepEqual(bridgeA.counts, { sent: 2, received: 0, dropped: 10_001, notifications: 3 });
  bridgeA.stop();
  bridgeB.stop();
  await channel.close();
});

if (requirePostgres()) {
  describe('live events across two servers on one PostgreSQL database', () => {
    let cluster: TestPostgres;
    let admin: pg.Client;
    let a: TestServer;
    let b: TestServer;
    const dirs: Array<{ path: string; cleanup(): Promise<void> }> = [];

    before(async () => {
      cluster = await testPostgres();
      const url = await cluster.createDatabase();
      admin = new pg.Client({ connectionString: cluster.adminUrl });
      await admin.connect();
      for (let i = 0; i < 2; i++) dirs.push(await tempDir('gf-live-bridge-'));
      a = await startTestServer(dirs[0]!.path, { db: { url }, cluster: { enabled: true } });
      b = await startTestServer(dirs[1]!.path, { db: { url }, cluster: { enabled: true } });
    });
    after(async () => {
      await a?.stop();
      await b?.stop();
      await admin?.end();
      await cluster?.stop();
      for (const d of dirs) await d.cleanup();
    });

    test('a host added through A appears once on B\'s event stream (and once on A\'s), within a second', async () => {
      const onB = sse(`${b.url}/api/v1/events`);
      const onA = sse(`${a.url}/api/v1/events`);
      try {
        await waitFrame('hello on B', onB.frames, (f) => f.type === 'hello');
        await waitFrame('hello on A', onA.frames, (f) => f.type === 'hello');
        await Promise.all([a.ctx.channel.ready(), b.ctx.channel.ready()]);
        const t0 = Date.now();
        const r = await a.api('/api/v1/hosts', { method: 'POST', body: { ip: '10.9.0.1', env: 'test', apps: ['nothing-here'] } });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        const id = r.body.id as number;
        const isOurs = (f: Frame) => f.type === 'inventory' && f.data.id === id;
        const got = await waitFrame('the inventory event on B', onB.frames, isOurs);
        const latency = got.seenAt - t0;
        process.stderr.write(`live bridge: A's POST sent → B's SSE frame in ${latency} ms\n`);
        assert.ok(latency < 1000, `arrived after ${latency} ms`);
        assert.deepEqual(got.data, { change: 'added', id, ip: '10.9.0.1', origin: 'api' });
        assert.match(got.id ?? '', new RegExp(`^${b.ctx.live!.boot}\\.\\d+$`), 'B numbers it in its own stream (Last-Event-ID replay on B)');
        // Give an echo or a duplicate every chance to arrive: a later event from A behind it on the same path.
        a.ctx.live!.publish('drift', { unit: 'marker/unit/x', drifted: 0, hosts: 0 });
        await waitFrame('marker on B', onB.frames, (f) => f.type === 'drift' && f.data.unit === 'marker/unit/x');
        await waitFrame('marker on A', onA.frames, (f) => f.type === 'drift' && f.data.unit === 'marker/unit/x');
        assert.equal(onB.frames.filter(isOurs).length, 1, 'exactly once on B');
        assert.equal(onA.frames.filter(isOurs).length, 1, 'exactly once on A: its own notification is not published again');
        // And the other way: B's change on A's stream.
        const r2 = await b.api(`/api/v1/hosts/${id}`, { method: 'DELETE' });
        assert.ok(r2.status === 200 || r2.status === 204, `delete answered ${r2.status}`);
        const removed = await waitFrame('removal on A', onA.frames, (f) => f.type === 'inventory' && f.data.change === 'removed' && f.data.id === id);
        assert.equal(removed.data.ip, '10.9.0.1');
      } finally {
        await onA.stop();
        await onB.stop();
      }
    });

    test('a burst of 5,000 events reaches the other node complete and in order', async () => {
      const seen: number[] = [];
      const unsubscribe = b.ctx.live!.subscribe((e) => { if (e.type === 'host' && e.data.deploymentId === 99) seen.push(e.data.n as number); });
      try {
        const t0 = Date.now();
        for (let n = 0; n < 5000; n++) a.ctx.live!.publish('host', { deploymentId: 99, unit: 'nginx/prod/shop', ip: `10.2.${n >> 8}.${n & 255}`, status: 'ok', n });
        await until('all 5,000 on B', async () => (seen.length >= 5000 ? true : undefined), 20_000);
        process.stderr.write(`live bridge: 5,000 events from A on B's bus in ${Date.now() - t0} ms\n`);
        assert.deepEqual(seen, Array.from({ length: 5000 }, (_, n) => n));
      } finally {
        unsubscribe();
      }
    });

    test('an event too big for a notification reaches the other node cut to its ids', async () => {
      const onB = sse(`${b.url}/api/v1/events`);
      try {
        await waitFrame('hello', onB.frames, (f) => f.type === 'hello');
        a.ctx.live!.publish('hostsync.run', { source: 'cmdb', runId: 77, status: 'succeeded', errors: 'e'.repeat(20_000) });
        const got = await waitFrame('the cut event', onB.frames, (f) => f.type === 'hostsync.run' && f.data.runId === 77);
        assert.deepEqual(got.data, { truncated: true, status: 'succeeded', source: 'cmdb', runId: 77 });
      } finally {
        await onB.stop();
      }
    });

    test('B\'s listening connection killed: B\'s clients get a resync (live, and in a replay), later events flow again', async () => {
      const onB = sse(`${b.url}/api/v1/events`);
      try {
        const hello = await waitFrame('hello', onB.frames, (f) => f.type === 'hello');
        assert.ok(hello);
        const before = b.ctx.live!.publish('drift', { unit: 'before/kill/x', drifted: 0, hosts: 0 });
        // application_name is cut at 63 bytes by PostgreSQL.
        const name = `gitfleet listen ${b.ctx.node.id}`.slice(0, 63);
        const killed = await admin.query<{ n: number }>('SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1', [name]);
        assert.equal(killed.rows[0]!.n, 1, 'B has one listening backend, found by its application_name');
        const resync = await waitFrame('resync on B', onB.frames, (f) => f.type === 'resync');
        assert.match(resync.data.reason, /reconnected/);
        // A client that was away since `before` learns it too, from the replay.
        const replayed = sse(`${b.url}/api/v1/events`, { 'last-event-id': before.id });
        try {
          await waitFrame('hello after replay', replayed.frames, (f) => f.type === 'hello');
          assert.ok(replayed.frames.some((f) => f.type === 'resync'), 'the resync is in the replay');
        } finally {
          await replayed.stop();
        }
        await b.ctx.channel.ready();
        a.ctx.live!.publish('drift', { unit: 'after/kill/x', drifted: 1, hosts: 1 });
        await waitFrame('A\'s event after the reconnect', onB.frames, (f) => f.type === 'drift' && f.data.unit === 'after/kill/x');
        assert.ok(b.logs.some((l) => l.msg === 'channel: listening again'));
      } finally {
        await onB.stop();
      }
    });
  });
}
