// npm run bench [-- name ...]: every benchmark, or the named ones, each printing its own table.
// Figures are ratios against a baseline measured in the same run (absolute times vary by machine).
import type { Bench } from './bench.js';

const benches: Array<() => Promise<Bench>> = [
  async () => (await import('./push.js')).default,
  async () => (await import('./host-sync.js')).default,
  async () => (await import('./es-sync.js')).default,
  async () => (await import('./webhooks.js')).default,
  async () => (await import('./dashboard.js')).default,
  async () => (await import('./templates.js')).default,
];

const wanted = process.argv.slice(2);
for (const load of benches) {
  const b = await load();
  if (wanted.length && !wanted.includes(b.name)) continue;
  console.log(`\n=== ${b.name}: ${b.description} ===`);
  await b.run((line) => console.log(line));
}
