// The dashboard in Chromium on a large database: time until the overview shows its data with 1,000 deployments,
// and the units × hosts matrix at 5,000 hosts × 50 units (time to first rows, then frame times while scrolling).
// The data is written straight into a fresh database (the figures are about the page, not about pushing).
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { parseConfig } from '../../server/src/config.js';
import { startServer } from '../../server/src/boot.js';
import * as rec from '../../server/src/db/deployments.js';
import type { Print } from './bench.js';

const CHROMIUM = process.env.GITFLEET_CHROMIUM ?? '/usr/bin/chromium';
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

export async function browserFigures(print: Print): Promise<void> {
  if (!existsSync(CHROMIUM)) { print(`(no Chromium at ${CHROMIUM}: page timings skipped)`); return; }
  const HOSTS = Number(process.env.BENCH_UI_MATRIX_HOSTS ?? 5000);
  const UNITS = Number(process.env.BENCH_UI_MATRIX_UNITS ?? 50);
  const dir = await mkdtemp(join(tmpdir(), 'gf-bench-ui-page-'));
  const s = await startServer(parseConfig({ dataDir: dir, server: { port: 0 }, log: { level: 'warn' }, repo: { pollInterval: 0 }, hostSync: { converge: { enabled: false } } }), pino({ level: 'warn' }));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    const now = new Date().toISOString();
    await s.ctx.db.tx(async (q) => {
      for (let i = 0; i < 1000; i++) {
        const id = await rec.insertDeployment(q, { trigger: 'gitlab', actor: 'bench', branch: 'main', before: 'a'.repeat(40), after: 'b'.repeat(40), request: { kind: 'push', trigger: 'gitlab' } }, now);
        await rec.finishDeployment(q, id, i % 10 === 0 ? 'partial' : 'succeeded', null, now);
      }
      // Every host holds every unit, a few at another commit (behind): one statement, 250,000 rows.
      await q.run(`WITH RECURSIVE h(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM h WHERE i < ?), u(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM u WHERE j < ?)
        INSERT INTO unit_hosts (unit, ip, commit_sha, deployed_at, deployment_id)
        SELECT 'mod' || (j % 5) || '/prod/app' || j, '10.' || (i / 65536) || '.' || ((i / 256) % 256) || '.' || (i % 256),
               CASE WHEN (i + j) % 37 = 0 THEN ? ELSE ? END, ?, 1000 FROM h, u`, [HOSTS - 1, UNITS - 1, 'c'.repeat(40), 'b'.repeat(40), now]);
    });
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const url = `http://127.0.0.1:${s.port}/ui/`;
    const overview: number[] = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(`${url}#/`, { waitUntil: 'commit' });
      await page.locator('[data-testid=recent] tr[data-deployment]').first().waitFor();
      overview.push(await page.evaluate(() => performance.now()));
    }
    print(`overview with 1,000 deployments: data on screen ${pct(overview, 50).toFixed(0)} ms after navigation (median of 3)`);
    const t0 = performance.now();
    const body = await (await fetch(`http://127.0.0.1:${s.port}/api/v1/matrix`)).text();
    const ms = performance.now() - t0;
    // What a browser receives (it asks for br): bytes on the wire, not the decoded JSON fetch hands back.
    const wire = await new Promise<number>((res, rej) => get(`http://127.0.0.1:${s.port}/api/v1/matrix`, { headers: { 'accept-encoding': 'gzip, deflate, br' } }, (r) => {
      let n = 0;
      r.on('data', (c: Buffer) => { n += c.length; }).on('end', () => res(n)).on('error', rej);
    }).on('error', rej));
    print(`GET /api/v1/matrix (${HOSTS * UNITS} cells): ${ms.toFixed(0)} ms, ${(body.length / 1048576).toFixed(1)} MiB of JSON, ${(wire / 1024).toFixed(0)} kB on the wire (br)`);
    await page.goto(`${url}#/matrix`, { waitUntil: 'commit' });
    await page.locator('[data-testid=matrix] [data-host]').first().waitFor({ timeout: 120_000 });
    const first = await page.evaluate(() => performance.now());
    const rows = await page.locator('[data-testid=matrix] [data-host]').count();
    // Scroll 120 px (a mouse-wheel notch) per frame for 300 frames, about 1,300 hosts; record each frame's duration.
    // (A string, not a function: tsx's helpers for named functions do not exist in the page.)
    const frames = await page.evaluate<number[]>(`new Promise((resolve) => {
      const el = document.querySelector('[data-testid=matrix]');
      const step = 120;
      const out = [];
      let last = performance.now();
      let n = 0;
      const tick = (t) => {
        out.push(t - last);
        last = t;
        el.scrollTop = ++n * step;
        if (n <= 300) requestAnimationFrame(tick); else resolve(out.slice(2));
      };
      requestAnimationFrame(tick);
    })`);
    print(`matrix ${HOSTS} hosts × ${UNITS} units: first rows ${first.toFixed(0)} ms after navigation; ${rows} rows in the DOM (virtualised)`);
    print(`matrix scroll (120 px a frame), ${frames.length} frames: median ${pct(frames, 50).toFixed(1)} ms, p95 ${pct(frames, 95).toFixed(1)} ms, max ${Math.max(...frames).toFixed(1)} ms, over 50 ms: ${frames.filter((f) => f > 50).length}`);
  } finally {
    await browser.close();
    await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
