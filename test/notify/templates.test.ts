// Pure parts of notifications: which deployment ends each filter announces, each format's documented shape, escaping,
// size caps, DingTalk signing and the judging of answers.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import type { DeploymentStatus } from '../../server/src/deploy/types.js';
import { loadConfig, parseConfig } from '../../server/src/config.js';
import { ConfigError } from '../../server/src/errors.js';
import { dingtalkSignedUrl, judge } from '../../server/src/notify/sender.js';
import { capBytes, clean, renderPayload, wants } from '../../server/src/notify/templates.js';
import { deployment, host } from './fixtures.js';

describe('wants', () => {
  const table: Array<[DeploymentStatus, 'failures' | 'all', boolean]> = [
    ['succeeded', 'failures', false], ['partial', 'failures', true], ['failed', 'failures', true], ['interrupted', 'failures', true],
    ['succeeded', 'all', true], ['partial', 'all', true], ['failed', 'all', true], ['interrupted', 'all', true],
  ];
  for (const [status, on, want] of table) it(`${on}: ${status} → ${want}`, () => assert.equal(wants(on, deployment(status)), want));
  it('a succeeded deployment that touched no unit is not announced', () => assert.equal(wants('all', deployment('succeeded', { units: [] })), false));
});

describe('renderPayload', () => {
  const failed = deployment('failed');
  const url = 'https://gitfleet.example.com/';

  it('json: the full record plus a summary and a link', () => {
    const p = renderPayload('json', failed, url) as any;
    assert.equal(p.event, 'deployment.finished');
    assert.deepEqual(p.deployment, failed);
    assert.equal(p.url, 'https://gitfleet.example.com/api/v1/deployments/42');
    assert.match(p.summary.title, /deployment #42 failed/);
    assert.match(p.summary.text, /10\.0\.0\.2 nginx\/prod\/shop: ssh: connect to host 10\.0\.0\.2 port 22: Connection refused/);
    assert.match(p.summary.text, /Hosts \(2\): 1 succeeded, 1 failed/);
  });

  it('host counts add up to the total: skipped hosts (a stopped rollout) are counted', () => {
    const d = deployment('partial', { hosts: [host('10.0.0.1', 'succeeded'), host('10.0.0.2', 'failed', 'boom'), host('10.0.0.3', 'skipped'), host('10.0.0.4', 'skipped'), host('10.0.0.5', 'aborted')] });
    const text = (renderPayload('json', d) as any).summary.text as string;
    assert.match(text, /Hosts \(5\): 1 succeeded, 1 failed, 1 aborted, 2 skipped$/m);
  });

  it('slack: {text} in mrkdwn with <url|label> links', () => {
    const p = renderPayload('slack', failed, url) as any;
    assert.deepEqual(Object.keys(p), ['text']);
    assert.match(p.text, /^:x: \*gitfleet: deployment #42 failed\*/);
    assert.match(p.text, /<https:\/\/gitfleet\.example\.com\/api\/v1\/deployments\/42\|Details>$/);
    assert.match((renderPayload('slack', deployment('succeeded')) as any).text, /^:white_check_mark:/);
  });

  it('dingtalk: {msgtype: markdown, markdown: {title, text}}', () => {
    const p = renderPayload('dingtalk', failed, url) as any;
    assert.deepEqual(Object.keys(p), ['msgtype', 'markdown']);
    assert.equal(p.msgtype, 'markdown');
    assert.deepEqual(Object.keys(p.markdown), ['title', 'text']);
    assert.equal(p.markdown.title, 'gitfleet: deployment #42 failed');
    assert.match(p.markdown.text, /^### gitfleet: deployment #42 failed\n\n- Status: failed\n/);
    assert.match(p.markdown.text, /\*\*Failed hosts\*\*\n\n- 10\.0\.0\.2/);
    assert.match(p.markdown.text, /\[Details\]\(https:\/\/gitfleet\.example\.com\/api\/v1\/deployments\/42\)$/);
  });

  it('wecom: {msgtype: markdown, markdown: {content}} with a coloured status', () => {
    const p = renderPayload('wecom', failed) as any;
    assert.deepEqual(Object.keys(p), ['msgtype', 'markdown']);
    assert.deepEqual(Object.keys(p.markdown), ['content']);
    assert.match(p.markdown.content, /^\*\*gitfleet: deployment #42 <font color="warning">failed<\/font>\*\*\n> Status: failed/);
    assert.match((renderPayload('wecom', deployment('succeeded')) as any).markdown.content, /<font color="info">succeeded<\/font>/);
    assert.doesNotMatch(p.markdown.content, /Details/, 'no link without publicUrl');
  });

  it('neutralises links, mentions and markup in free text (actor, reasons, errors)', () => {
    const evil = deployment('failed', { actor: 'x <!channel> [click](http://evil) <@U123>\n# heading', error: '<b>boom</b>' });
    const slack = (renderPayload('slack', evil) as any).text as string;
    assert.doesNotMatch(slack, /<!channel>|<@U123>|\]\(http/);
    assert.doesNotMatch(slack, /\n# heading/);
    const md = (renderPayload('dingtalk', evil) as any).markdown.text as string;
    assert.doesNotMatch(md, /\[click\]|<!channel>|<b>/);
    assert.equal(clean('a\n\tb   c'), 'a b c');
    assert.equal(clean('x'.repeat(300), 10).length, 10);
  });

  it('stays within the bots\' size limits with many failed hosts and units', () => {
    const many = deployment('partial', {
      units: Array.from({ length: 300 }, (_, i) => `nginx/prod/app${i}`),
      hosts: Array.from({ length: 2000 }, (_, i) => host(`10.0.${i >> 8}.${i & 255}`, 'failed', 'x'.repeat(150))),
    });
    const wecom = (renderPayload('wecom', many) as any).markdown.content as string;
    assert.ok(Buffer.byteLength(wecom) <= 4096, `wecom ${Buffer.byteLength(wecom)} bytes`);
    assert.match(wecom, /… and 1990 more/);
    assert.ok(Buffer.byteLength((renderPayload('slack', many) as any).text) <= 4000);
    assert.ok(Buffer.byteLength((renderPayload('dingtalk', many) as any).markdown.text) <= 20_000);
    const cut = capBytes('é'.repeat(100), 51);
    assert.ok(Buffer.byteLength(cut) <= 51 && !cut.includes('\uFFFD'), 'cut on a character boundary');
  });
});

describe('sender pure parts', () => {
  it('signs DingTalk URLs as documented: base64 HMAC-SHA256 of "timestamp\\nsecret"', () => {
    const u = new URL(dingtalkSignedUrl('https://oapi.dingtalk.com/robot/send?access_token=T', 'SECabc', 1700000000000));
    assert.equal(u.searchParams.get('access_token'), 'T');
    assert.equal(u.searchParams.get('timestamp'), '1700000000000');
    assert.equal(u.searchParams.get('sign'), createHmac('sha256', 'SECabc').update('1700000000000\nSECabc').digest('base64'));
  });

  it('judges answers: 5xx/429 retry, other 4xx give up, bot errcodes', () => {
    const table: Array<[Parameters<typeof judge>, boolean, boolean | undefined]> = [
      [['json', 200, '', null], true, undefined],
      [['json', 204, '', null], true, undefined],
      [['slack', 200, 'ok', null], true, undefined],
      [['json', 500, '', null], false, true],
      [['json', 503, '', null], false, true],
      [['json', 429, '', '3'], false, true],
      [['json', 404, 'no', null], false, false],
      [['json', 302, '', null], false, false],
      [['dingtalk', 200, '{"errcode":0,"errmsg":"ok"}', null], true, undefined],
      [['dingtalk', 200, '{"errcode":310000,"errmsg":"keywords not in content"}', null], false, false],
      [['dingtalk', 200, '{"errcode":130101,"errmsg":"send too fast"}', null], false, true],
      [['wecom', 200, '{"errcode":45009,"errmsg":"api freq out of limit"}', null], false, true],
      [['wecom', 200, '<html>', null], false, false],
    ];
    for (const [args, ok, retry] of table) {
      const a = judge(...args);
      assert.equal(a.ok, ok, JSON.stringify(args));
      if (!a.ok) assert.equal(a.retry, retry, JSON.stringify(args));
    }
    const ra = judge('json', 429, '', '3');
    assert.equal(!ra.ok && ra.retryAfterMs, 3000);
    const r5 = judge('json', 500, '', null);
    assert.equal(!r5.ok && r5.retryAfterMs, undefined, 'no Retry-After: the configured backoff applies');
  });
});

describe('notifications config', () => {
  it('accepts targets by name with defaults', () => {
    const c = parseConfig({ notifications: { targets: { ops: { url: 'https://hooks.slack.com/services/x', format: 'slack' } } } });
    assert.deepEqual(c.notifications.targets.ops, { url: 'https://hooks.slack.com/services/x', format: 'slack', on: 'failures', headers: {}, timeout: 10, retries: 3, retryBackoff: 2 });
    assert.deepEqual(parseConfig({}).notifications.targets, {});
  });

  it('configures a target "default" from the environment alone (secrets stay out of the file)', () => {
    const c = loadConfig([], { GITFLEET_NOTIFY_URL: 'https://hooks.example.com/T0K3N', GITFLEET_NOTIFY_AUTH: 'Bearer x' });
    const t = c.notifications.targets.default!;
    assert.equal(t.url, 'https://hooks.example.com/T0K3N');
    assert.deepEqual(t.headers, { Authorization: 'Bearer x' });
    assert.equal(t.format, 'json');
    assert.throws(() => loadConfig([], { GITFLEET_NOTIFY_URL: 'https://x/hook', GITFLEET_NOTIFY_SECRET: 'SEC1' }), /secret is for format dingtalk/, 'format must be set to dingtalk in the file');
  });

  it('names the key of each problem', () => {
    try {
      parseConfig({ notifications: { targets: { 'a b': { url: 'x' }, ok: { url: 'ftp://x', format: 'teams', headers: { 'X-Bad': 'a\nb' }, secret: 's' } } } });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      for (const re of [/notifications\.targets: key "a b"/, /notifications\.targets\.ok\.url/, /notifications\.targets\.ok\.format/, /notifications\.targets\.ok\.headers\.X-Bad/]) assert.match(text, re);
    }
    assert.throws(() => parseConfig({ notifications: { targets: { ok: { url: 'https://x', format: 'slack', secret: 's' } } } }), /secret is for format dingtalk/);
  });
});
