// Prints the dashboard's first-load JavaScript (every script index.html loads or preloads, and what they import
// statically), raw and gzipped, and fails the build above the budget (300 kB gzipped).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET = 300 * 1024;
const dir = resolve(dirname(new URL(import.meta.url).pathname), '..', 'server', 'dist', 'ui');
const html = readFileSync(join(dir, 'index.html'), 'utf8');
const seen = new Set();
const queue = [...html.matchAll(/(?:src|href)="\/ui\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
let raw = 0, gz = 0;
while (queue.length) {
  const f = queue.shift();
  if (seen.has(f)) continue;
  seen.add(f);
  const buf = readFileSync(join(dir, f));
  raw += buf.length;
  gz += gzipSync(buf, { level: 9 }).length;
  // Static imports between chunks ("./x.js" from assets/): loaded before the page runs.
  for (const m of buf.toString('utf8').matchAll(/(?:^|[;}\s])import\s*(?:[\w*{}\s,$]+from\s*)?["']\.\/([^"']+\.js)["']/g)) queue.push(`assets/${m[1]}`);
}
const kb = (n) => `${(n / 1024).toFixed(1)} kB`;
console.log(`dashboard first-load JS: ${seen.size} file(s), ${kb(raw)} raw, ${kb(gz)} gzipped (budget ${kb(BUDGET)})`);
if (gz > BUDGET) { console.error('dashboard bundle over budget'); process.exit(1); }
