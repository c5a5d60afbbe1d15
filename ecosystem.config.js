// pm2 definition of gitfleet: `pm2 start ecosystem.config.js` (add `--env production` for env_production).
// One fork-mode instance: the poller and schedulers must not run twice.
// The package is ESM; Node >= 20.19 lets pm2 require() this file, so `apps` is a named export.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
// The Node that scripts/setup.sh installed when the system one is older than 24; else the system's.
const setupNode = join(root, '.runtime', 'node', 'node_modules', '.bin', 'node');

export const apps = [
  {
      name: 'gitfleet',
      cwd: root,
      // Compiled output (`bash scripts/setup.sh install` or `npm run build`): no TypeScript loader in production.
      script: 'server/dist/main.js',
      interpreter: existsSync(setupNode) ? setupNode : 'node',
      args: process.env.GITFLEET_CONFIG ? ['--config', process.env.GITFLEET_CONFIG] : [],
      exec_mode: 'fork',
      instances: 1,
      // The process sends 'ready' once it listens; give start-up (git fetch, migrations) time.
      wait_ready: true,
      listen_timeout: 30000,
      // SIGINT, then SIGKILL after kill_timeout: keep it above server.shutdownGrace (default 30 s).
      kill_timeout: 40000,
      treekill: true,
      autorestart: true,
      min_uptime: '10s',
      max_restarts: 10,
      exp_backoff_restart_delay: 200,
      max_memory_restart: '1G',
      time: true,
      env: { NODE_ENV: 'production' },
    },
];

export default { apps };
