// GET /api/v1/events on a real server with a real fleet: a push's state changes arrive live, in order; Last-Event-ID
// replays; a client that stops reading is dropped instead of buffered.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { LiveBus } from '../../server/src/events/live-bus.js';
import { createEventRoutes } from '../../server/src/events/sse.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const API_TOKEN = 'api-token-for-sse-tests-012345678';

interface Frame { id?: string; type: string; data: any }

/** Read an SSE stream into `frames` until aborted. */
function listen(url: string, headers: Record<string, string>) {
  const frames: Frame[] = [];
  const ctl = new AbortController();
  let status = 0;
  let raw = '';
  const done = (async () => {
    const res = await fetch(url, { headers, signal: ctl.signal });
    status = res.status;
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body!) {
        buf += dec.decode(chunk as Uint8Array, { stream: true });
        raw += dec.decode(chunk as Uint8Array);
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const id = /^id: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data) { const p = JSON.parse(data); frames.push({ id, type: p.type, data: p.data }); }
        }
      }
    } catch { /* aborted */ }
  })();
  return { frames, status: () => status, raw: () => raw, stop: async () => { ctl.abort(); await done; } };
}

describe('live events', () => {
  it('LiveBus replays what a reconnecting client missed, or says it cannot', () => {
    const bus = new LiveBus(3);
    const a = bus.publish('deployment', { id: 1 });
    bus.publish('deployment', { id: 2 });
    bus.publish('deployment', { id: 3 });
    assert.deepEqual((bus.since(a.id) as any).events.map((e: any) => e.data.id), [2, 3]);
    bus.publish('deployment', { id: 4 });
    bus.publish('deployment', { id: 5 }); // a's successor (2) has left the ring
    assert.equal(bus.since(a.id), 'gap');
    assert.equal(bus.since('00000000.1'), 'gap', 'an id of another process');
    assert.equal(bus.since('garbage'), 'gap');
    const last = bus.publish('deployment', { id: 6 });
    assert.deepEqual(bus.since(last.id), { events: [] });
  });

  it('drops a client that stops reading once its unsent bytes pass the bound (memory stays bounded)', async () => {
    const bus = new LiveBus(10);
    let drops = 0;
    // The stream alone (its own bus and bound); the caller as the open API's actor (what resolveActorMiddleware gives there).
    const app = express().use((_req, res, next) => { res.locals.actor = { kind: 'open' }; next(); })
      .use(createEventRoutes(bus, { heartbeatMs: 60_000, retryMs: 1000, maxBufferedBytes: 64 * 1024 }, () => drops++));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    const sock = connect(port, '127.0.0.1');
    sock.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('subscribed', async () => (bus.clients === 1 ? true : undefined), 5000);
    sock.pause(); // never read again
    const big = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 2000 && bus.clients > 0; i++) {
      bus.publish('host', { pad: big });
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(bus.clients, 0, 'the slow client was unsubscribed');
    assert.equal(drops, 1);
    sock.destroy();
    await new Promise((r) => server.close(r));
  });

  describe('on a real server and fleet', () => {
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    let fleet: Fleet;
    let fx: GitFixture;
    let s: TestServer;
    before(async () => {
      tmp = await tempDir('gf-sse-');
      fleet = await startFleet(`${tmp.path}/fleet`, 2);
      fx = await createGitFixture(`${tmp.path}/git`);
      await fx.commit({ 'README.md': 'x\n', 'nginx/prod/shop/etc/nginx/conf.d/shop.conf': 'v1\n' });
      s = await startTestServer(`${tmp.path}/data`, {
        repo: { url: fx.origin }, api: { tokens: [API_TOKEN] },
        deploy: { retries: 0, hostTimeout: 20, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 3 } },
      });
      for (const ip of fleet.ips) assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['shop'] } })).status, 201);
    });
    after(async () => { await s?.stop(); await fleet?.down(); await tmp?.cleanup(); });

    it('needs credentials like the rest of the API', async () => {
      const r = await fetch(`${s.url}/api/v1/events`);
      assert.equal(r.status, 401);
    });

    it('streams a push: queued → running → each host running then its result → the deployment result', async () => {
      const [good, bad] = fleet.ips as [string, string];
      await fleet.stopHost(bad);
      const l = listen(`${s.url}/api/v1/events`, { authorization: `Bearer ${API_TOKEN}` });
      await until('hello', async () => (l.frames.some((f) => f.type === 'hello') ? true : undefined), 5000);
      assert.match(l.raw(), /^retry: 2000\n\n/);
      const r = await s.api('/sync?env=prod&app=shop&wait=false');
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const id = r.body.id as number;
      await until('deployment end event', async () => (l.frames.some((f) => f.type === 'deployment' && f.data.id === id && ['partial', 'failed'].includes(f.data.status)) ? true : undefined), 60_000);
      await l.stop();
      const mine = l.frames.filter((f) => f.data.id === id || f.data.deploymentId === id);
      const dep = mine.filter((f) => f.type === 'deployment').map((f) => f.data.status);
      assert.deepEqual(dep, ['queued', 'running', 'partial']);
      for (const [ip, end] of [[good, 'succeeded'], [bad, 'failed']] as const) {
        assert.deepEqual(mine.filter((f) => f.type === 'host' && f.data.ip === ip).map((f) => f.data.status), ['running', end], ip);
      }
      assert.deepEqual(mine.filter((f) => f.type === 'unit').map((f) => f.data.status).at(-1), 'partial');
      // The stream agrees with the record.
      const rec = await s.api(`/api/v1/deployments/${id}`);
      assert.equal(rec.body.status, 'partial');
      // Reconnecting with Last-Event-ID replays exactly what came after it.
      const queued = mine.find((f) => f.type === 'deployment' && f.data.status === 'queued')!;
      const l2 = listen(`${s.url}/api/v1/events`, { authorization: `Bearer ${API_TOKEN}`, 'last-event-id': queued.id! });
      await until('hello 2', async () => (l2.frames.some((f) => f.type === 'hello') ? true : undefined), 5000);
      await l2.stop();
      const after = l.frames.slice(l.frames.indexOf(queued) + 1).filter((f) => f.id).map((f) => f.id);
      assert.deepEqual(l2.frames.filter((f) => f.id).map((f) => f.id), after);
      await fleet.startHost(bad);
    });
  });
});
