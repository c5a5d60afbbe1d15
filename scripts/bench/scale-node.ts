// One gitfleet process of the scale benchmark (scripts/bench/scale.ts starts it): startServer with the in-memory
// transport, the bench's hosts inserted (when asked), then a line protocol on stdin/stdout:
//   → `ready {"port","pid"}` once it listens;  `stats` → `stats {...}` (CPU, memory, what the transport answered);
//   `profile-start` / `profile-stop FILE` → `profiled` (a V8 CPU profile of the window between, written to FILE);
//   `stop` → drains, exits 0.
// Usage: node --import tsx scripts/bench/scale-node.ts '<json: NodeSpec>'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';
import { parseConfig } from '../../server/src/config.js';
import { createLogger } from '../../server/src/log.js';
import { startServer } from '../../server/src/boot.js';
import { memoryTransport, type MemoryLauncher } from './memory-transport.js';
import { insertBenchHosts } from './scale-hosts.js';

export interface NodeSpec {
  dataDir: string;
  repoUrl: string;
  /** PostgreSQL URL; absent: SQLite in the data dir. */
  dbUrl?: string;
  role: 'all' | 'api' | 'worker';
  /** Hosts to insert before `ready` (0: none, e.g. a worker). */
  hosts: number;
  env: string;
  app: string;
  concurrency: number;
}

export interface NodeStats {
  pid: number;
  /** process.cpuUsage() of this process, user + system, ms (since it started). */
  cpuMs: number;
  rssKiB: number;
  /** Peak RSS since start (VmHWM). */
  hwmKiB: number;
  heapUsedKiB: number;
  rsyncRuns: number;
  filesSent: number;
  /** CPU ms by thread name (/proc/self/task): the main thread, libuv's pool (SQLite statements, fs), V8's helpers (GC). */
  threads: Record<string, number>;
}

function threadCpuMs(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of readdirSync('/proc/self/task')) {
    try {
      const f = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const name = t === String(process.pid) ? 'main' : f.slice(f.indexOf('(') + 1, f.lastIndexOf(')')).replace(/\d+$/, '').trim();
      const x = f.slice(f.lastIndexOf(')') + 2).split(' ').map(Number);
      out[name] = (out[name] ?? 0) + ((x[11]! + x[12]!) * 1000) / 100;
    } catch { /* ended */ }
  }
  return out;
}

function status(key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : 0;
}

const spec = JSON.parse(process.argv[2] ?? '') as NodeSpec;
const config = parseConfig({
  dataDir: spec.dataDir, server: { port: 0 }, log: { level: 'warn' },
  repo: { url: spec.repoUrl, pollInterval: 0 },
  ...(spec.dbUrl ? { db: { url: spec.dbUrl } } : {}),
  cluster: { role: spec.role },
  // The bench inserts its hosts itself: no converge deployment beside the measured one.
  hostSync: { converge: { enabled: false } },
  deploy: { concurrency: spec.concurrency, retries: 0 },
});
let mem: MemoryLauncher | undefined;
const server = await startServer(config, createLogger('warn', process.stderr), { transport: memoryTransport((l) => { mem = l; }) });
if (spec.hosts > 0) await insertBenchHosts(server.ctx.db, spec.hosts, spec.env, spec.app);
const out = (line: string) => process.stdout.write(`${line}\n`);
out(`ready ${JSON.stringify({ port: server.port, pid: process.pid })}`);

let profiler: Session | undefined;
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'stats') {
    const cpu = process.cpuUsage();
    const stats: NodeStats = {
      pid: process.pid, cpuMs: (cpu.user + cpu.system) / 1000, rssKiB: status('VmRSS'), hwmKiB: status('VmHWM'),
      heapUsedKiB: Math.round(process.memoryUsage().heapUsed / 1024), rsyncRuns: mem?.stats.rsyncRuns ?? 0, filesSent: mem?.stats.filesSent ?? 0, threads: threadCpuMs(),
    };
    out(`stats ${JSON.stringify(stats)}`);
  } else if (line === 'profile-start') {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    out('profiling');
  } else if (line.startsWith('profile-stop ')) {
    const { profile } = await profiler!.post('Profiler.stop');
    writeFileSync(line.slice('profile-stop '.length), JSON.stringify(profile));
    profiler!.disconnect();
    out('profiled');
  } else if (line === 'stop') break;
}
await server.stop();
process.exit(0);
