// The dashboard in Debian's Chromium (playwright-core, no browser download) against a real server and a real fleet:
// sign-in, a real push seen live on the overview, a failing host's reason, zh-CN everywhere, matrix drift, dry-run
// preview, rollback with confirmation. Screenshots of every page in both languages go to test/artifacts/screenshots/.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { UI_DIR } from '../../server/src/dashboard/static.js';
import { startFleet, type Fleet } from '../helpers/fleet.js';
import { createGitFixture, type GitFixture } from '../helpers/git-fixture.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { deliver, gitlabPush } from '../helpers/webhooks.js';

const CHROMIUM = process.env.GITFLEET_CHROMIUM ?? '/usr/bin/chromium';
const API_TOKEN = 'api-token-for-browser-tests-0123456';
const HOOK_TOKEN = 'gitlab-token-for-browser-tests';
const SHOTS = resolve(import.meta.dirname, '..', 'artifacts', 'screenshots');
const CONF = '/etc/nginx/conf.d/shop.conf';
const UNIT = 'nginx/prod/shop';
const EXTRA = '/etc/nginx/conf.d/extra.conf';
const META = 'rollout:\n  batchSize: 1\n  bakeSeconds: 1\n  maxFailures: 3\n';
/** Latin words a zh-CN page may show outside data values: the product, protocol acronyms, file and setting names. */
const LATIN_OK = new Set(['gitfleet', 'IP', 'API', 'ES', 'Cookie', 'api', 'tokens', 'yaml', 'rsync']);

/** Visible text outside data values ([data-raw]) that still has Latin words not on the allow-list. */
async function untranslated(page: Page): Promise<string[]> {
  const texts = await page.evaluate(() => {
    const out: string[] = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest('[data-raw]') || !n.textContent?.trim()) continue;
      if (el.closest('option') && !el.closest('select')?.matches(':focus')) { /* options count too: visible when opened */ }
      const r = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      if ((r.width === 0 && r.height === 0 && !el.closest('option')) || style.visibility === 'hidden' || style.display === 'none') continue;
      out.push(n.textContent.trim());
    }
    return out;
  });
  // Interpolated commit ids are data too.
  return texts.filter((s) => (s.match(/[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*/g) ?? []).some((w) => !LATIN_OK.has(w) && !/^[0-9a-f]{7,40}$/.test(w)));
}

describe('dashboard in the browser', { skip: !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM} (scripts/setup.sh test installs it)` : !existsSync(join(UI_DIR, 'index.html')) ? 'dashboard not built (npm run build:ui)' : false }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let fleet: Fleet;
  let fx: GitFixture;
  let s: TestServer;
  let browser: Browser;
  let page: Page;
  let c1: string; let c2: string;
  let head: string;
  let pushId = 0;
  let config: Record<string, unknown>;
  const shot = async (name: string) => { await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true }); };
  const go = async (hash: string) => { await page.goto(`${s.url}/ui/#${hash}`); };

  before(async () => {
    tmp = await tempDir('gf-ui-');
    await mkdir(SHOTS, { recursive: true });
    fleet = await startFleet(`${tmp.path}/fleet`, 3);
    fx = await createGitFixture(`${tmp.path}/git`);
    c1 = await fx.commit({ 'README.md': 'x\n', [`${UNIT}${CONF}`]: 'v1\n', [`${UNIT}${EXTRA}`]: 'extra\n', [`${UNIT}/.gitfleet.yaml`]: META }, 'shop: first config');
    head = c1;
    // A host-sync source that lists nobody and runs only when asked: the host-sync page's switch and run now.
    await writeFile(`${tmp.path}/inv.yaml`, 'hosts: []\n');
    config = {
      hostSync: { sources: { inv: { type: 'file', path: `${tmp.path}/inv.yaml`, runAtStart: false } } },
      repo: { url: fx.origin }, api: { tokens: [API_TOKEN] }, webhook: { gitlab: { token: HOOK_TOKEN } },
      deploy: { retries: 0, hostTimeout: 20, ssh: { identityFile: fleet.identityFile, knownHostsFile: fleet.knownHostsFile, connectTimeout: 3 } },
    };
    s = await startTestServer(`${tmp.path}/data`, config);
    for (const ip of fleet.ips) assert.equal((await s.api('/api/v1/hosts', { method: 'POST', body: { ip, env: 'prod', apps: ['shop'] } })).status, 201);
    const first = await s.api('/sync?env=prod&app=shop');
    assert.equal(first.body.status, 'succeeded', JSON.stringify(first.body));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    const ctx = await browser.newContext({ locale: 'en-US', timezoneId: 'Asia/Shanghai', viewport: { width: 1400, height: 900 } });
    page = await ctx.newPage();
  });
  after(async () => {
    await browser?.close();
    await s?.stop();
    await fleet?.down();
    await tmp?.cleanup();
  });

  it('signs in with an API token: an HttpOnly cookie, the token in no storage', async () => {
    await go('/');
    await page.getByTestId('token').waitFor();
    await shot('signin-en');
    await page.getByTestId('token').fill('wrong-token-wrong-token-0000');
    await page.getByTestId('sign-in').click();
    await page.getByRole('alert').filter({ hasText: 'Sign-in failed' }).waitFor();
    await page.getByTestId('token').fill(API_TOKEN);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('live').and(page.locator('[data-state=live]')).waitFor();
    const cookies = await page.context().cookies();
    const c = cookies.find((x) => x.name === 'gitfleet_session');
    assert.ok(c, 'session cookie set');
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, 'Strict');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.ok(!stored.includes(API_TOKEN), 'the token is nowhere in script-readable storage');
    assert.equal(await page.getByTestId('open-banner').count(), 0, 'no open-API banner when tokens are configured');
  });

  it('shows a real push live on the overview and ends with the right per-host statuses, without a reload', async () => {
    const [, , bad] = fleet.ips as [string, string, string];
    await fleet.stopHost(bad);
    await go('/');
    await page.getByTestId('none-running').waitFor();
    const marker = await page.evaluate(() => ((window as unknown as { __mark: number }).__mark = Math.random()));
    c2 = await fx.commit({ [`${UNIT}${CONF}`]: 'v2\n' }, 'shop: second config');
    const r = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: head, after: c2, token: HOOK_TOKEN }));
    head = c2;
    pushId = r.body.queued?.[0] ?? r.body.id;
    assert.ok(pushId, JSON.stringify(r.body));
    // While it runs: in the running list with its progress.
    const running = page.locator(`[data-testid=running] li[data-deployment="${pushId}"]`);
    await running.filter({ hasText: /[0-2] of 3 hosts done/ }).waitFor({ timeout: 20_000 });
    await shot('overview-running-en');
    // Then: its row in the recent list turns partial (one host down), the running list empties.
    await page.locator(`[data-testid=recent] tr[data-deployment="${pushId}"] [data-status=partial]`).waitFor({ timeout: 60_000 });
    await page.getByTestId('none-running').waitFor();
    assert.equal(await page.evaluate(() => (window as unknown as { __mark: number }).__mark), marker, 'the page was never reloaded');
    await shot('overview-en');
  });

  it('the deployment page gives each host its status and the failing host its reason', async () => {
    const [a, b, bad] = fleet.ips as [string, string, string];
    await page.locator(`[data-testid=recent] tr[data-deployment="${pushId}"] a`).click();
    try {
      await page.getByTestId('host-table').waitFor();
      // (The page may first show what the overview had cached, then its own fresh read.)
      for (const ip of [a, b]) await page.locator(`tr[data-host="${ip}"] [data-status=succeeded]`).waitFor({ timeout: 5000 });
      await page.locator(`tr[data-host="${bad}"] [data-status=failed]`).waitFor({ timeout: 5000 });
      const reason = await page.locator(`tr[data-host="${bad}"] [data-testid=reason]`).innerText();
      assert.match(reason, /\w{4,}/, 'a reason a human can read');
      assert.equal(await page.locator(`tr[data-host="${a}"] td`).nth(3).innerText(), '1', 'one file changed on a good host');
      // (The commit list is a read of its own: wait for it rather than read it once.)
      await page.getByTestId('commits').filter({ hasText: 'shop: second config' }).waitFor({ timeout: 5000 }).catch(() => undefined);
      assert.match(await page.getByTestId('commits').innerText(), new RegExp(`${c2.slice(0, 8)} shop: second config`), 'the commit range with its message');
      await shot('deployment-en');
    } finally {
      await fleet.startHost(bad);
    }
  });

  it('retries the failed hosts from the deployment page, with confirmation', async () => {
    await page.getByTestId(`retry-${UNIT}`).click();
    await page.getByRole('dialog').filter({ hasText: 'again to 1 failed host' }).waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    const link = page.getByRole('status').locator('a');
    await link.waitFor();
    const id = Number(await link.innerText());
    const d = await s.ctx.deployer.wait(id);
    assert.equal(d.status, 'succeeded');
    assert.equal(await readFile(fleet.path(fleet.ips[2]!, CONF), 'utf8'), 'v2\n');
  });

  it('switching to zh-CN changes every visible UI string on every page; screenshots in both languages', async () => {
    const [a] = fleet.ips as [string];
    const hostId = (await s.api(`/api/v1/hosts?ip=${a}`)).body.items[0].id as number;
    const pages: Array<[string, string]> = [['overview', '/'], ['deployment', `/deployments/${pushId}`], ['matrix', '/matrix'], ['units', '/units'],
      ['unit', `/units/${UNIT}`], ['hosts', '/hosts'], ['host', `/hosts/${hostId}`], ['host-sync', '/host-sync'], ['es-sync', '/es-sync']];
    for (const [name, hash] of pages) {
      await go(hash);
      await page.waitForLoadState('networkidle');
      await shot(`${name}-en`);
      if (name === 'host') assert.ok(await page.getByTestId('host-pushes').locator('tbody tr').count() >= 2, 'the host page lists its pushes');
    }
    await page.getByTestId('language').selectOption('zh-CN');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    for (const [name, hash] of pages) {
      await go(hash);
      await page.waitForLoadState('networkidle');
      await page.getByTestId('live').and(page.locator('[data-state=live]')).waitFor();
      const left = await untranslated(page);
      assert.deepEqual(left, [], `${name}: untranslated text in zh-CN`);
      await shot(`${name}-zh-CN`);
    }
    assert.equal(await page.getByTestId('live').innerText(), '实时');
    await page.getByTestId('language').selectOption('en');
  });

  it('the matrix shows a host drifted after its file was changed by hand', async () => {
    const [a] = fleet.ips as [string];
    await go('/matrix');
    const cell = page.locator(`[data-testid=matrix] [data-host="${a}"] [data-unit="${UNIT}"]`);
    await cell.waitFor();
    assert.equal(await cell.getAttribute('data-state'), 'in_sync');
    await writeFile(fleet.path(a, CONF), 'edited by hand\n');
    const check = await s.api('/api/v1/drift/check', { method: 'POST', body: { unit: UNIT } });
    assert.equal(check.status, 200, JSON.stringify(check.body));
    await page.locator(`[data-testid=matrix] [data-host="${a}"] [data-unit="${UNIT}"][data-state=drifted]`).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('[data-testid=matrix] [data-state=drifted]').count(), 1, 'only that host');
    await shot('matrix-drift-en');
    await cell.click();
    await page.getByTestId('cell-history').locator('tr').nth(1).waitFor();
    await page.getByRole('button', { name: 'Close' }).click();
  });

  it('a dry run from the unit page shows the per-host preview and changes nothing', async () => {
    const [a, b] = fleet.ips as [string, string];
    await go(`/units/${UNIT}`);
    await page.getByTestId('dry-run').click();
    const preview = page.getByTestId('preview');
    await preview.waitFor({ timeout: 30_000 });
    assert.match(await preview.locator(`li[data-host="${a}"]`).innerText(), /1 file\(s\) would change/);
    assert.match(await preview.locator(`li[data-host="${a}"]`).innerText(), /shop\.conf/);
    assert.match(await preview.locator(`li[data-host="${b}"]`).innerText(), /0 file\(s\) would change/);
    assert.equal(await readFile(fleet.path(a, CONF), 'utf8'), 'edited by hand\n', 'dry run left the host alone');
    await shot('unit-dry-run-en');
  });

  it('rollback asks for confirmation naming both commits, then deploys the earlier commit', async () => {
    await go(`/units/${UNIT}`);
    await page.getByTestId('rollback-target').selectOption(c1);
    await page.getByTestId('rollback').click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    const q = await dialog.innerText();
    assert.ok(q.includes(c2.slice(0, 8)) && q.includes(c1.slice(0, 8)), q);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await readFile(fleet.path(fleet.ips[1]!, CONF), 'utf8'), 'v2\n', 'cancel deploys nothing');
    await page.getByTestId('rollback').click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    const link = page.getByRole('status').locator('a');
    await link.waitFor();
    const id = Number(await link.innerText());
    const d = await s.ctx.deployer.wait(id);
    assert.equal(d.status, 'succeeded');
    for (const ip of fleet.ips) assert.equal(await readFile(fleet.path(ip, CONF), 'utf8'), 'v1\n', ip);
    await link.click();
    await page.getByTestId('host-table').waitFor();
  });

  it('a unit held by the deletion breaker shows on the overview; confirming deploys the removal', async () => {
    const c3 = await fx.commit({ [`${UNIT}${EXTRA}`]: null, [`${UNIT}/.gitfleet.yaml`]: `${META}deletion:\n  maxFiles: 0\n` }, 'shop: drop extra');
    await go('/');
    await page.getByTestId('none-running').waitFor();
    const r = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: head, after: c3, token: HOOK_TOKEN }));
    head = c3;
    const d = await s.ctx.deployer.wait(r.body.queued[0]);
    assert.equal(d.status, 'failed', JSON.stringify(d));
    const held = page.getByTestId('held').locator('li');
    await held.filter({ hasText: 'Held by the deletion breaker' }).waitFor({ timeout: 10_000 });
    assert.match(await held.innerText(), /1 files would be removed \(limit 0 files\)/);
    await shot('overview-held-en');
    await held.getByRole('button', { name: 'Confirm removals' }).click();
    const dialog = page.getByRole('dialog');
    assert.match(await dialog.innerText(), new RegExp(`${UNIT} at ${c3.slice(0, 8)}`));
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.getByTestId('held').waitFor({ state: 'detached', timeout: 30_000 });
    const latest = (await s.api('/api/v1/deployments?limit=1')).body.items[0];
    assert.ok(latest.id > d.id && latest.request.confirmDeletions, JSON.stringify(latest));
    assert.equal((await s.ctx.deployer.wait(latest.id)).status, 'succeeded');
    for (const ip of fleet.ips) assert.equal(existsSync(fleet.path(ip, EXTRA)), false, `${ip}: removed after the confirm`);
  });

  it('shows it was disconnected when the stream drops, and reconnects by itself', async () => {
    await go('/');
    const live = page.getByTestId('live');
    await live.and(page.locator('[data-state=live]')).waitFor();
    s.server.closeAllConnections(); // the stream is cut as by a restart
    await live.and(page.locator('[data-state=down]')).waitFor({ timeout: 5000 });
    await live.and(page.locator('[data-state=live]')).waitFor({ timeout: 10_000 });
  });

  it('after a real server restart: shows the outage, reconnects, keeps the session and re-reads what changed meanwhile', async () => {
    await go('/');
    const live = page.getByTestId('live');
    await live.and(page.locator('[data-state=live]')).waitFor();
    const port = s.port;
    await s.stop();
    await live.and(page.locator('[data-state=down]')).waitFor({ timeout: 5000 });
    s = await startTestServer(`${tmp.path}/data`, { ...config, server: { port } });
    await live.and(page.locator('[data-state=live]')).waitFor({ timeout: 15_000 });
    // Something changes while nobody is looking... then the stream tells the page (no reload, still signed in).
    const r = await s.api('/sync?env=prod&app=shop&wait=false');
    await page.locator(`[data-testid=recent] tr[data-deployment="${r.body.id}"] [data-status=succeeded]`).waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('token').count(), 0, 'the session survived the restart');
  });
  it('host sync: a source is disabled and enabled from its page, in both languages; run now still runs it', async () => {
    await go('/host-sync');
    const row = page.locator('[data-source=inv]');
    const toggle = row.getByTestId('source-toggle');
    await page.locator('[data-source=inv][data-enabled=true]').waitFor();
    assert.equal(await toggle.innerText(), 'Disable');
    await toggle.click();
    await page.locator('[data-source=inv][data-enabled=false]').waitFor();
    assert.equal(await toggle.innerText(), 'Enable');
    const src = (await s.api('/api/v1/host-sync/sources')).body.items.find((x: any) => x.name === 'inv');
    assert.deepEqual([src.enabled, src.disabledBy], [false, 'api'], 'the server has it disabled');
    await row.getByTestId('source-run').click();
    await page.getByTestId('hs-runs').locator('tbody tr').first().locator('[data-status]').waitFor();
    assert.equal((await s.api('/api/v1/host-sync/runs?source=inv')).body.total, 1, 'run now ran the disabled source once');
    await shot('host-sync-disabled-en');
    await page.getByTestId('language').selectOption('zh-CN');
    assert.equal(await toggle.innerText(), '启用');
    await toggle.click();
    await page.locator('[data-source=inv][data-enabled=true]').waitFor();
    assert.equal(await toggle.innerText(), '停用');
    assert.deepEqual(await untranslated(page), [], 'host sync page in zh-CN');
    assert.equal((await s.api('/api/v1/host-sync/sources')).body.items.find((x: any) => x.name === 'inv').enabled, true);
    await shot('host-sync-zh-CN-enabled');
    await page.getByTestId('language').selectOption('en');
  });
  it('the unit page shows its files as a tree: folders open and close, a file opens in the viewer (both languages)', async () => {
    await go(`/units/${UNIT}`);
    const files = page.getByTestId('files');
    await files.locator('[data-dir=etc]').waitFor();
    // A small unit starts open: every file is visible, folders before files (extra.conf was removed by the breaker test).
    assert.deepEqual((await s.api(`/api/v1/units/${UNIT}/tree`)).body.files.sort(), ['.gitfleet.yaml', 'etc/nginx/conf.d/shop.conf']);
    assert.deepEqual(await files.locator('[data-file]').evaluateAll((els) => els.map((e) => e.getAttribute('data-file'))),
      ['etc/nginx/conf.d/shop.conf', '.gitfleet.yaml']);
    const etc = files.locator('[data-dir=etc] > button');
    assert.equal(await etc.getAttribute('aria-expanded'), 'true');
    await etc.click();
    assert.equal(await etc.getAttribute('aria-expanded'), 'false');
    assert.equal(await files.locator('[data-file^="etc/"]').count(), 0, 'closing a folder hides what is in it');
    await etc.click();
    await files.locator('[data-file="etc/nginx/conf.d/shop.conf"] button').click();
    const blob = await s.api(`/api/v1/units/${UNIT}/blob?path=etc/nginx/conf.d/shop.conf`);
    await page.getByTestId('file-content').waitFor();
    assert.equal(await page.getByTestId('file-content').textContent(), blob.body.content);
    assert.equal(await page.getByTestId('file-path').innerText(), 'etc/nginx/conf.d/shop.conf');
    await shot('unit-tree-en');
    await page.getByTestId('language').selectOption('zh-CN');
    assert.equal(await etc.getAttribute('title'), '收起目录');
    await etc.click();
    assert.equal(await etc.getAttribute('title'), '展开目录');
    assert.deepEqual(await untranslated(page), [], 'unit page in zh-CN');
    await shot('unit-tree-zh-CN');
    await page.getByTestId('language').selectOption('en');
  });
  it('the overview shows a unit held by a sync window, the window and when it opens, live; and its release', async () => {
    await go('/');
    await page.getByTestId('recent').waitFor();
    const events: Array<Record<string, unknown>> = [];
    const unsubscribe = s.ctx.live!.subscribe((e) => { if (e.type === 'window') events.push(e.data); });
    // A deny window for shop that began a minute ago and lasts 2 hours (a daily schedule at that minute, UTC).
    const start = new Date(Date.now() - 60_000);
    const w = await s.api('/api/v1/windows/shop-freeze', { method: 'POST', body: { kind: 'deny', schedule: `${start.getUTCMinutes()} ${start.getUTCHours()} * * *`, duration: '2h', apps: ['shop'] } });
    assert.equal(w.status, 201, JSON.stringify(w.body));
    const next = await fx.commit({ [`${UNIT}${CONF}`]: 'v3\n' }, 'shop: third config');
    const r = await deliver(`${s.url}/webhooks/gitlab`, gitlabPush({ before: head, after: next, token: HOOK_TOKEN }));
    head = next;
    assert.ok(r.body.queued?.[0], JSON.stringify(r.body));
    const item = page.locator(`[data-testid=window-held] li[data-unit="${UNIT}"]`);
    await item.waitFor({ timeout: 20_000 });
    assert.match(await item.innerText(), /held by sync window shop-freeze/);
    const held = (await s.api('/api/v1/windows')).body.held.find((h: any) => h.unit === UNIT);
    assert.deepEqual(held.windows, ['shop-freeze']);
    assert.equal(new Date(held.until).getTime(), Math.floor(start.getTime() / 60_000) * 60_000 + 2 * 3600_000, 'until: the window closes');
    const opens = await item.getByTestId('window-opens').innerText();
    assert.match(opens, /^may sync from /);
    await shot('overview-window-held-en');
    await page.getByTestId('language').selectOption('zh-CN');
    assert.match(await item.innerText(), /被同步窗口暂缓：\s*shop-freeze/);
    assert.match(await item.getByTestId('window-opens').innerText(), /^可同步时间/);
    assert.deepEqual(await untranslated(page), [], 'overview with held work in zh-CN');
    await shot('overview-window-held-zh-CN');
    await page.getByTestId('language').selectOption('en');
    // Removing the window releases the unit: the item goes away without a reload, a release deployment runs.
    assert.equal((await s.api('/api/v1/windows/shop-freeze', { method: 'DELETE' })).status, 204);
    await item.waitFor({ state: 'detached', timeout: 20_000 });
    const recent = (await s.api('/api/v1/deployments?limit=1')).body.items[0];
    assert.match(recent.actor, /^sync window release/);
    unsubscribe();
    assert.deepEqual(events.map((e) => e.change), ['windows', 'held', 'windows', 'released'], JSON.stringify(events));
    assert.deepEqual([events[1]!.deploymentId, events[1]!.units], [r.body.queued[0], [UNIT]]);
    assert.deepEqual([events[3]!.deploymentId, events[3]!.units, events[3]!.heldIn], [recent.id, [UNIT], [r.body.queued[0]]]);
  });
});
