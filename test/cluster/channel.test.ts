// The cluster channel: two PostgreSQL channels on one real database (delivery both ways and to the sender's own
// listeners, topic isolation, the payload limit, a killed listening backend coming back), and the in-process one.
import { strict as assert } from 'node:assert';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { LocalChannel, MAX_PAYLOAD_BYTES, PgChannel, type Channel } from '../../server/src/cluster/channel.js';
import { announceWork, onWork, type WorkHint } from '../../server/src/cluster/wake.js';
import type { Db } from '../../server/src/db/connection.js';
import { openPostgres } from '../../server/src/db/postgres.js';
import { createLogger } from '../../server/src/log.js';
import { requirePostgres, testPostgres, type TestPostgres } from '../helpers/postgres.js';
import { until } from '../helpers/wait.js';

function capture() {
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger('debug', sink), records };
}

/** Everything a channel's listener got on a topic. */
function collect(ch: Channel, topic: string): { got: string[]; stop: () => void } {
  const got: string[] = [];
  return { got, stop: ch.listen(topic, (p) => got.push(p)) };
}

const arrived = (what: string, list: string[], payload: string) => until(what, async () => (list.includes(payload) ? true : undefined), 5000);

describe('in-process channel (SQLite)', () => {
  test('delivers to listeners of the topic only, asynchronously, with the same limits as PostgreSQL', async () => {
    const ch = new LocalChannel();
    const a = collect(ch, 'topic_a');
    const a2 = collect(ch, 'topic_a');
    const b = collect(ch, 'topic_b');
    await ch.notify('topic_a', 'one');
    assert.deepEqual(a.got, [], 'not inside notify(): a listener never runs in the sender\'s stack');
    await arrived('one', a.got, 'one');
    await until('second listener', async () => (a2.got.length ? true : undefined), 5000);
    assert.deepEqual(a2.got, ['one']);
    assert.deepEqual(b.got, []);
    a2.stop();
    await ch.notify('topic_a', 'two');
    await arrived('two', a.got, 'two');
    assert.deepEqual(a2.got, ['one'], 'unsubscribed');
    await assert.rejects(ch.notify('topic_a', 'x'.repeat(MAX_PAYLOAD_BYTES + 1)), /payload of 8000 bytes is over the limit of 7999/);
    assert.throws(() => ch.listen('Topic; DROP', () => undefined), /channel topic "Topic; DROP": lower-case letters/);
    // announceWork/onWork on the same channel: the hint as sent; a malformed payload on the topic is ignored.
    const hints: WorkHint[] = [];
    onWork(ch, (w) => hints.push(w));
    await ch.notify('gitfleet_work', '{"kind":"nonsense"}');
    assert.equal(await announceWork(ch, { kind: 'host', dc: 'bx' }), true);
    await until('hint', async () => (hints.length ? true : undefined), 5000);
    assert.deepEqual(hints, [{ kind: 'host', dc: 'bx' }]);
    await ch.close();
    await assert.rejects(ch.notify('topic_a', 'late'), /channel closed/);
    assert.equal(await announceWork(ch, { kind: 'deployment', dc: null }), false, 'a hint that could not be sent: false, no throw');
  });
});

if (requirePostgres()) {
  describe('PostgreSQL channel', () => {
    let cluster: TestPostgres;
    let url: string;
    let dbName: string;
    /** On the maintenance database: the test's own database may be closed to connections. */
    let admin: pg.Client;
    const pools: Db[] = [];
    const channels: Channel[] = [];
    const open = async (name: string, log = capture().log) => {
      const db = await openPostgres(url);
      pools.push(db);
      const ch = await PgChannel.open({ url, db, log, name, backoff: { minMs: 50, maxMs: 400 } });
      channels.push(ch);
      return ch;
    };
    const listenerPid = async (name: string): Promise<number | undefined> => {
      const r = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = $2', [`gitfleet listen ${name}`, dbName]);
      assert.ok(r.rows.length <= 1, `one listening backend for ${name}`);
      return r.rows[0]?.pid;
    };

    before(async () => {
      cluster = await testPostgres();
      url = await cluster.createDatabase();
      dbName = new URL(url).pathname.slice(1);
      admin = new pg.Client({ connectionString: cluster.adminUrl });
      await admin.connect();
    });
    after(async () => {
      for (const ch of channels) await ch.close().catch(() => undefined);
      for (const db of pools) await db.close().catch(() => undefined);
      await admin.end();
      await cluster.stop();
    });

    test('a notification reaches every listener of its topic, the sender\'s own included, and no other topic', async () => {
      const a = await open('a1');
      const b = await open('b1');
      const bLive = collect(b, 'live_t');
      const aLive = collect(a, 'live_t');
      const bOther = collect(b, 'other_t');
      await Promise.all([a.ready(), b.ready()]);
      await a.notify('other_t', 'for-other');
      await a.notify('live_t', 'hello from a');
      await arrived('at b', bLive.got, 'hello from a');
      await arrived('at a itself', aLive.got, 'hello from a');
      assert.deepEqual(bLive.got, ['hello from a'], 'other_t went elsewhere');
      assert.deepEqual(bOther.got, ['for-other']);
      // and back, with payloads as sent (quotes, non-ASCII)
      const tricky = `{"x":"it's \\"q\\" 数据"}`;
      await b.notify('live_t', tricky);
      await arrived('at a', aLive.got, tricky);
      // Unsubscribing one listener keeps the others; the last one's UNLISTEN stops the topic for that channel.
      const bLive2 = collect(b, 'live_t');
      bLive.stop();
      bOther.stop();
      await b.ready();
      await a.notify('other_t', 'after-unlisten');
      await a.notify('live_t', 'marker');
      await arrived('marker at b', bLive2.got, 'marker');
      assert.ok(!bLive.got.includes('marker'), 'unsubscribed listener');
      assert.deepEqual(bOther.got, ['for-other'], 'other_t no longer delivered to b');
    });

    test('announceWork on one node wakes onWork on another (and on itself)', async () => {
      const a = await open('a6');
      const b = await open('b6');
      const onB: WorkHint[] = [];
      const onA: WorkHint[] = [];
      onWork(b, (w) => onB.push(w));
      onWork(a, (w) => onA.push(w));
      await Promise.all([a.ready(), b.ready()]);
      assert.equal(await announceWork(a, { kind: 'host', dc: 'bx' }), true);
      assert.equal(await announceWork(a, { kind: 'deployment', dc: null }), true);
      await until('both hints on B', async () => (onB.length === 2 ? true : undefined), 5000);
      assert.deepEqual(onB, [{ kind: 'host', dc: 'bx' }, { kind: 'deployment', dc: null }]);
      await until('both hints on A', async () => (onA.length === 2 ? true : undefined), 5000);
    });

    test('payloads up to PostgreSQL\'s limit go through; bigger ones and bad topics are refused with a clear error', async () => {
      const a = await open('a2');
      const b = await open('b2');
      const got = collect(b, 'big_t');
      await b.ready();
      const max = 'é'.repeat((MAX_PAYLOAD_BYTES - 1) / 2) + 'x'; // exactly 7999 bytes, 4000 characters
      assert.equal(Buffer.byteLength(max), 7999);
      await a.notify('big_t', max);
      await arrived('the largest payload', got.got, max);
      await assert.rejects(a.notify('big_t', `${max}x`), /channel big_t: payload of 8000 bytes is over the limit of 7999 \(send a small hint/);
      // The limit is PostgreSQL's own: pg_notify refuses 8000 bytes.
      await assert.rejects(admin.query('SELECT pg_notify($1, $2)', ['big_t', 'x'.repeat(8000)]), /payload string too long/);
      await assert.rejects(a.notify('Big-T', 'x'), /channel topic "Big-T": lower-case letters/);
      assert.throws(() => a.listen('x"; DROP TABLE t; --', () => undefined), /channel topic/);
    });

    test('a killed listening backend: the channel reconnects with backoff, calls onReconnect, and hears later notifications', async () => {
      const a = await open('a3');
      const cap = capture();
      const b = await open('b3', cap.log);
      const got = collect(b, 'after_t');
      let reconnects = 0;
      b.onReconnect(() => reconnects++);
      await b.ready();
      const first = await listenerPid('b3');
      assert.ok(first, 'b3 has a listening backend named after it');
      // While the database refuses connections, the reconnect keeps trying (and failing).
      await admin.query(`ALTER DATABASE "${dbName}" WITH ALLOW_CONNECTIONS false`);
      try {
        const t = (await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [first])).rows[0]!;
        assert.equal(t.ok, true);
        await until('a failed reconnect', async () => (cap.records.some((r) => r.msg === 'channel: reconnect failed') ? true : undefined), 5000);
        assert.equal(reconnects, 0);
        assert.ok(cap.records.some((r) => r.msg === 'channel: the listening connection dropped; reconnecting'));
      } finally {
        await admin.query(`ALTER DATABASE "${dbName}" WITH ALLOW_CONNECTIONS true`);
      }
      const t0 = Date.now();
      await until('onReconnect', async () => (reconnects === 1 ? true : undefined), 5000);
      const waited = Date.now() - t0;
      const second = await listenerPid('b3');
      assert.ok(second && second !== first, 'a new listening backend');
      await a.notify('after_t', 'after the reconnect');
      await arrived('after the reconnect', got.got, 'after the reconnect');
      assert.equal(reconnects, 1);
      assert.ok(waited < 1500, `back within the backoff cap (${waited} ms after connections were allowed again)`);
    });

    test('a listening connection cut silently (no FIN, no RST) is found by its ping and replaced', async () => {
      // A TCP relay to PostgreSQL that can stop forwarding without closing anything: what a firewall losing its state does.
      const pairs: Array<[Socket, Socket]> = [];
      const target = new URL(url);
      const relay: Server = createServer((down) => {
        const up = connect(Number(target.port), target.hostname);
        down.pipe(up);
        up.pipe(down);
        const quiet = () => { down.destroy(); up.destroy(); };
        down.on('error', quiet);
        up.on('error', quiet);
        pairs.push([down, up]);
      });
      await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
      try {
        const relayed = new URL(url);
        relayed.port = String((relay.address() as { port: number }).port);
        const a = await open('a5');
        const db = await openPostgres(url);
        pools.push(db);
        const cap = capture();
        const b = await PgChannel.open({ url: relayed.toString(), db, log: cap.log, name: 'b5', pingMs: 300, backoff: { minMs: 50, maxMs: 400 } });
        channels.push(b);
        const got = collect(b, 'silent_t');
        let reconnects = 0;
        b.onReconnect(() => reconnects++);
        await b.ready();
        await a.notify('silent_t', 'before');
        await arrived('before the cut', got.got, 'before');
        const frozen = pairs.length;
        for (const [down, up] of pairs) { down.unpipe(up); up.unpipe(down); }
        await a.notify('silent_t', 'lost in the cut');
        await until('the reconnect', async () => (reconnects === 1 ? true : undefined), 5000);
        assert.ok(pairs.length > frozen, 'a new connection through the relay');
        assert.ok(cap.records.some((r) => r.msg === 'channel: the listening connection dropped; reconnecting' && /did not answer within 300 ms/.test(String((r.err as { message?: string })?.message))));
        await a.notify('silent_t', 'after');
        await arrived('after the reconnect', got.got, 'after');
        assert.deepEqual(got.got, ['before', 'after'], 'what was sent during the cut is lost (hence onReconnect)');
      } finally {
        for (const [down, up] of pairs) { down.destroy(); up.destroy(); }
        await new Promise((r) => relay.close(r));
      }
    });

    test('close ends the listening backend; notify afterwards is refused', async () => {
      const a = await open('a4');
      collect(a, 'closing_t');
      await a.ready();
      assert.ok(await listenerPid('a4'));
      await a.close();
      await until('backend gone', async () => ((await listenerPid('a4')) === undefined ? true : undefined), 5000);
      await assert.rejects(a.notify('closing_t', 'x'), /channel closed/);
    });
  });
}
