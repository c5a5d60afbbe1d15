// pm2 definition of gitfleet: `pm2 start ecosystem.config.js` (add `--env production` for env_production).
// Default: one fork-mode instance (SQLite, or one process on PostgreSQL). GITFLEET_LAYOUT=cluster: the scale-out
// layout on PostgreSQL (README "Scale-out"): two API nodes and workers per data centre, each its own data dir and
// port; GITFLEET_DCS=bx:2,wgq:1 says which data centres and how many workers each (default bx:1).
// The package is ESM; Node >= 20.19 lets pm2 require() this file, so `apps` is a named export.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
// The Node that scripts/setup.sh installed when the system one is older than 24; else the system's.
const setupNode = join(root, '.runtime', 'node', 'node_modules', '.bin', 'node');

const single = [
  {
      name: 'gitfleet',
      cwd: root,
      // Compiled output (`bash scripts/setup.sh install` or `npm run build`): no TypeScript loader in production.
      script: 'server/dist/main.js',
      // As `npm start`: V8's default young generation grew RSS by ~45 MiB under a webhook storm (README "Benchmarks").
      node_args: '--max-semi-space-size=8',
      interpreter: existsSync(setupNode) ? setupNode : 'node',
      args: process.env.GITFLEET_CONFIG ? ['--config', process.env.GITFLEET_CONFIG] : [],
      exec_mode: 'fork',
      instances: 1,
      // The process sends 'ready' once it listens; give start-up (git fetch, migrations) time.
      wait_ready: true,
      listen_timeout: 30000,
      // SIGINT, then SIGKILL after kill_timeout: keep it above server.shutdownGrace (default 30 s) plus the few
      // seconds closing takes (ssh masters, the database).
      kill_timeout: 40000,
      // Signal the server alone: it drains (running host pushes finish within shutdownGrace) and ends its own
      // children. pm2's tree-kill sent SIGINT to every rsync and ssh too, so a push in its hooks died at once.
      treekill: false,
      autorestart: true,
      min_uptime: '10s',
      max_restarts: 10,
      exp_backoff_restart_delay: 200,
      max_memory_restart: '1G',
      // pino writes JSON lines with their own time: a pm2 timestamp prefix would break them.
      time: false,
      env: { NODE_ENV: 'production' },
    },
];

/** One process of the cluster layout: the single definition with its role, data centre, port and data dir. */
function clusterProcess(name, role, index, dc) {
  const base = single[0];
  const basePort = Number(process.env.GITFLEET_PORT ?? 8080);
  const dataDir = process.env.GITFLEET_DATA_DIR ?? join(root, 'data');
  return {
    ...base,
    name,
    args: [...base.args, '--role', role, ...(dc ? ['--dc', dc] : [])],
    env: {
      ...base.env,
      // API nodes on PORT, PORT+1 (behind the load balancer; PORT = GITFLEET_PORT or 8080); workers on PORT+10 and up.
      GITFLEET_PORT: String(basePort + (role === 'api' ? index : 10 + index)),
      GITFLEET_DATA_DIR: join(dataDir, name),
    },
  };
}

function clusterLayout() {
  const dcs = (process.env.GITFLEET_DCS ?? 'bx:1').split(',').map((x) => x.trim()).filter(Boolean).map((x) => {
    const [dc, n] = x.split(':');
    return { dc, n: Number(n ?? 1) };
  });
  const out = [clusterProcess('gitfleet-api-1', 'api', 0), clusterProcess('gitfleet-api-2', 'api', 1)];
  let w = 0;
  for (const { dc, n } of dcs) for (let i = 1; i <= n; i++) out.push(clusterProcess(`gitfleet-worker-${dc}-${i}`, 'worker', w++, dc));
  return out;
}

export const apps = process.env.GITFLEET_LAYOUT === 'cluster' ? clusterLayout() : single;

export default { apps };
