// The notifier against real loopback receivers: filters, headers, retries after 500 with backoff, a dead or hanging
// receiver (gives up, logs, never throws), the pending cap, and stop().
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createLogger } from '../../server/src/log.js';
import { notificationsConfigSchema, type NotificationsConfig } from '../../server/src/notify/config-schema.js';
import { Notifier } from '../../server/src/notify/notifier.js';
import { startReceiver, type Receiver } from './receiver.js';
import { deployment } from './fixtures.js';
import { freePort as deadPort } from '../helpers/net.js';

function capture() {
  const logs: Array<Record<string, any>> = [];
  const log = createLogger('debug', new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) logs.push(JSON.parse(l)); cb(); } }));
  return { logs, log };
}


const settle = async (n: Notifier) => { while (n.busy) await new Promise((r) => setTimeout(r, 10)); };

describe('Notifier', () => {
  let rx: Receiver;
  before(async () => { rx = await startReceiver(); });
  after(async () => { await rx.close(); });

  const make = (targets: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const { logs, log } = capture();
    const config: NotificationsConfig = notificationsConfigSchema.parse({ targets, ...extra });
    const registry = new Registry();
    return { n: new Notifier({ config, log, registry }), logs, registry };
  };

  it('failures only vs all: each target gets exactly the ends it asked for, with its format and headers', async () => {
    rx.requests.length = 0;
    const { n } = make({
      failures: { url: `${rx.url}/failures`, format: 'slack', headers: { Authorization: 'Bearer hook-secret', 'X-Extra': '1' } },
      all: { url: `${rx.url}/all`, format: 'json', on: 'all' },
    });
    n.onFinished(deployment('succeeded', { id: 1 }));
    n.onFinished(deployment('failed', { id: 2 }));
    n.onFinished(deployment('partial', { id: 3 }));
    n.onFinished(deployment('interrupted', { id: 4 }));
    await settle(n);
    const got = rx.requests.map((r) => `${r.url} ${r.body.deployment?.id ?? /#(\d+)/.exec(r.body.text)![1]}`).sort();
    assert.deepEqual(got, ['/all 1', '/all 2', '/all 3', '/all 4', '/failures 2', '/failures 3', '/failures 4']);
    const slack = rx.requests.find((r) => r.url === '/failures')!;
    assert.equal(slack.method, 'POST');
    assert.equal(slack.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(slack.headers.authorization, 'Bearer hook-secret');
    assert.equal(slack.headers['x-extra'], '1');
    assert.deepEqual(Object.keys(slack.body), ['text']);
    assert.equal(rx.requests.find((r) => r.url === '/all')!.headers.authorization, undefined);
  });

  it('dingtalk and wecom targets get their message shapes; a DingTalk secret signs the URL', async () => {
    rx.requests.length = 0;
    rx.fallback = { status: 200, body: '{"errcode":0,"errmsg":"ok"}' };
    const { n } = make({
      ding: { url: `${rx.url}/robot/send?access_token=tok`, format: 'dingtalk', secret: 'SEC123' },
      wx: { url: `${rx.url}/cgi-bin/webhook/send?key=k`, format: 'wecom' },
    });
    n.onFinished(deployment('failed'));
    await settle(n);
    rx.fallback = { status: 200, body: '{}' };
    const ding = rx.requests.find((r) => r.url.startsWith('/robot'))!;
    const q = new URL(ding.url, rx.url).searchParams;
    assert.equal(q.get('access_token'), 'tok');
    assert.match(q.get('timestamp')!, /^\d{13}$/);
    assert.ok(q.get('sign'));
    assert.equal(ding.body.msgtype, 'markdown');
    assert.match(ding.body.markdown.title, /#42 failed/);
    const wx = rx.requests.find((r) => r.url.startsWith('/cgi-bin'))!;
    assert.equal(wx.body.msgtype, 'markdown');
    assert.match(wx.body.markdown.content, /#42/);
  });

  it('retries after a 500 with backoff, then succeeds', async () => {
    rx.requests.length = 0;
    rx.script = [{ status: 500 }, { status: 503 }];
    const { n, logs, registry } = make({ hook: { url: `${rx.url}/retry`, retries: 3, retryBackoff: 0.2 } });
    n.onFinished(deployment('failed'));
    await settle(n);
    assert.equal(rx.requests.length, 3);
    const [a, b, c] = rx.requests.map((r) => r.at);
    assert.ok(b! - a! >= 180, `first backoff ${b! - a!} ms`);
    assert.ok(c! - b! >= 380, `second backoff doubles: ${c! - b!} ms`);
    assert.deepEqual(rx.requests.map((r) => r.body.deployment.id), [42, 42, 42], 'the same message each time');
    const warns = logs.filter((l) => l.msg === 'notification attempt failed');
    assert.deepEqual(warns.map((l) => [l.attempt, l.status, l.willRetry]), [[1, 500, true], [2, 503, true]]);
    assert.ok(logs.some((l) => l.msg === 'notification sent' && l.attempts === 3));
    assert.ok(!JSON.stringify(logs).includes(rx.url), 'the target URL (may carry a token) is never logged');
    assert.match(await registry.metrics(), /gitfleet_notifications_total\{target="hook",result="sent"\} 1/);
  });

  it('does not retry a 4xx or a bot\'s refusal; honours Retry-After on 429', async () => {
    rx.requests.length = 0;
    rx.script = [{ status: 400, body: 'bad' }];
    const { n: n1, logs } = make({ hook: { url: `${rx.url}/bad`, retryBackoff: 0 } });
    n1.onFinished(deployment('failed'));
    await settle(n1);
    assert.equal(rx.requests.length, 1);
    assert.ok(logs.some((l) => l.msg === 'notification gave up' && l.httpStatus === 400));

    rx.requests.length = 0;
    rx.script = [{ status: 200, body: '{"errcode":310000,"errmsg":"keywords not in content"}' }];
    const { n: n2 } = make({ ding: { url: `${rx.url}/ding`, format: 'dingtalk', retryBackoff: 0 } });
    n2.onFinished(deployment('failed'));
    await settle(n2);
    assert.equal(rx.requests.length, 1);

    rx.requests.length = 0;
    rx.script = [{ status: 429, headers: { 'retry-after': '1' } }];
    const { n: n3 } = make({ hook: { url: `${rx.url}/limited`, retryBackoff: 0 } });
    n3.onFinished(deployment('failed'));
    await settle(n3);
    assert.equal(rx.requests.length, 2);
    assert.ok(rx.requests[1]!.at - rx.requests[0]!.at >= 950, 'waited for Retry-After');
  });

  it('a dead receiver: the listener returns at once, attempts are bounded, the failure is logged', async () => {
    const { n, logs, registry } = make({ dead: { url: `http://127.0.0.1:${await deadPort()}/x`, retries: 2, retryBackoff: 0.05 } });
    const t0 = performance.now();
    n.onFinished(deployment('failed'));
    assert.ok(performance.now() - t0 < 20, 'the listener does not wait for the network');
    await settle(n);
    const warns = logs.filter((l) => l.msg === 'notification attempt failed');
    assert.equal(warns.length, 3);
    assert.equal(warns[0]!.error, 'ECONNREFUSED');
    const gaveUp = logs.find((l) => l.msg === 'notification gave up')!;
    assert.equal(gaveUp.level, 50);
    assert.equal(gaveUp.attempts, 3);
    assert.match(await registry.metrics(), /gitfleet_notifications_total\{target="dead",result="failed"\} 1/);
  });

  it('a hanging receiver times out per attempt', async () => {
    rx.requests.length = 0;
    rx.script = ['hang', 'hang'];
    const { n, logs } = make({ slow: { url: `${rx.url}/hang`, timeout: 0.3, retries: 1, retryBackoff: 0 } });
    const t0 = Date.now();
    n.onFinished(deployment('failed'));
    await settle(n);
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(rx.requests.length, 2);
    assert.deepEqual(logs.filter((l) => l.msg === 'notification attempt failed').map((l) => l.error), ['timed out after 0.3s', 'timed out after 0.3s']);
  });

  it('drops (and logs) deliveries beyond maxPending per target; stop() aborts retries', async () => {
    rx.requests.length = 0;
    rx.fallback = 'hang';
    const { n, logs, registry } = make({ slow: { url: `${rx.url}/pile`, timeout: 30, retries: 5 } }, { maxPending: 2 });
    for (let i = 1; i <= 5; i++) n.onFinished(deployment('failed', { id: i }));
    assert.equal(n.busy, 2);
    assert.equal(logs.filter((l) => l.msg === 'notification dropped: too many pending for this target').length, 3);
    assert.match(await registry.metrics(), /result="dropped"\} 3/);
    const t0 = Date.now();
    await n.stop(200);
    assert.ok(Date.now() - t0 < 1500, `stop took ${Date.now() - t0} ms`);
    assert.equal(n.busy, 0);
    rx.fallback = { status: 200, body: '{}' };
  });
});
