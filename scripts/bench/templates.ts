// Templates benchmark (staging only, no transport): a unit of 200 files of which 20 are templates, staged for
// 1,000 hosts (each host's copy rendered, taken and released as a push would, 20 at a time). Two cases: the
// templates read only values and the host's data centre (2 of them: most hosts render identically and share a
// copy), and one template also reads the host's IP (every host renders differently). Baseline: the same unit
// without templates (one shared export, as before templates existed).
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { ConfigRepo } from '../../server/src/gitops/repo.js';
import { stageUnit } from '../../server/src/deploy/stage.js';
import { createLogger } from '../../server/src/log.js';
import { Launcher } from '../../server/src/util/launcher.js';
import type { HostInfo } from '../../server/src/templating/vars.js';
import { createGitFixture } from '../../test/helpers/git-fixture.js';
import type { Bench } from './bench.js';
import { measure, stopSampler } from './measure.js';

const FILES = 200;
const TEMPLATES = 20;
const HOSTS = Number(process.env.TEMPLATES_BENCH_HOSTS ?? 1000);
const CONCURRENCY = 20;
const unit = { mod: 'nginx', env: 'prod', app: 'web' };
const body = (i: number) => Array.from({ length: 40 }, (_, l) => `# line ${l} of file ${i}: ${'x'.repeat(30)}`).join('\n') + '\n';
const template = (i: number, perHost: boolean) =>
  `# template ${i}\nupstream u${i} {\n{% for s in upstreams[host.idc] %}  server {{ s }}:{{ port }} weight={{ weight }};\n{% endfor %}}\n`
  + (perHost && i === 0 ? 'listen {{ host.ip }}:80;\n' : '') + body(i);

const hosts: HostInfo[] = Array.from({ length: HOSTS }, (_, i) => ({
  ip: `10.${(i >> 8) & 255}.${i & 255}.${1 + (i % 200)}`, hostname: `web-${i}`, env: 'prod', apps: ['web'], labels: { idc: i % 2 ? 'bx' : 'wgq' },
}));

async function files(kind: 'plain' | 'env' | 'host'): Promise<Record<string, string>> {
  const out: Record<string, string> = { 'vars.yaml': 'port: 8080\nweight: 5\nupstreams:\n  bx: [10.1.0.1, 10.1.0.2, 10.1.0.3]\n  wgq: [10.2.0.1, 10.2.0.2]\n' };
  for (let i = 0; i < FILES; i++) {
    const t = kind !== 'plain' && i < TEMPLATES;
    out[`nginx/prod/web/etc/nginx/conf.d/f${String(i).padStart(3, '0')}.conf${t ? '.tmpl' : ''}`] = t ? template(i, kind === 'host') : body(i);
  }
  return out;
}

const bench: Bench = {
  name: 'templates',
  description: `staging a unit of ${FILES} files (${TEMPLATES} templates) for ${HOSTS} hosts`,
  async run(print) {
    const dir = await mkdtemp(join(tmpdir(), 'gf-bench-tmpl-'));
    const log = createLogger('silent');
    const launcher = new Launcher({ dir: join(dir, 'run'), log });
    try {
      print(`| case | copies staged | hosts sharing a copy | wall | peak RSS (process) | most copies on disk at once |`);
      print(`| --- | --- | --- | --- | --- | --- |`);
      for (const kind of ['plain', 'env', 'host'] as const) {
        const fx = await createGitFixture(join(dir, `git-${kind}`));
        const commit = await fx.commit(await files(kind));
        const repo = new ConfigRepo({ dir: join(dir, `cache-${kind}.git`), url: fx.origin, branch: 'main', log, launcher });
        await repo.init();
        const root = join(dir, `staging-${kind}`);
        let stats = { renders: 0, copies: 0, reused: 0 };
        let maxOnDisk = 0;
        const m = await measure(async () => {
          const stage = await stageUnit(repo, root, unit, commit, [undefined]);
          const limit = pLimit(CONCURRENCY);
          let n = 0;
          await Promise.all(hosts.map((h) => limit(async () => {
            const hs = await stage.forHost(h);
            // What a push reads: the list (and the copy's files, hashed for the probe).
            const list = await stage.listFor(undefined);
            await (hs ? hs.expected(list.plan.entries) : list.expected());
            if (++n % 100 === 0) maxOnDisk = Math.max(maxOnDisk, (await readdir(join(root, '.hosts')).catch(() => [])).length);
            hs?.release();
          })));
          stats = stage.rendering?.stats() ?? stats;
          await stage.cleanup();
        });
        const share = stats.renders ? `${((stats.reused / stats.renders) * 100).toFixed(1)}%` : 'all (no templates)';
        print(`| ${kind === 'plain' ? 'no templates (baseline)' : kind === 'env' ? 'templates read values + data centre' : 'one template reads the host IP'} | ${kind === 'plain' ? 1 : stats.copies} | ${share} | ${m.wallS.toFixed(2)} s | ${m.peakRssMiB.toFixed(0)} MiB | ${kind === 'plain' ? 1 : maxOnDisk} |`);
      }
    } finally {
      await stopSampler();
      await launcher.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
