// The simulated fleet for tests: real sshd per host, each in its own mount namespace and root (scripts/fleet.sh).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = resolve(import.meta.dirname, '..', '..', 'scripts', 'fleet.sh');

export interface Fleet {
  dir: string;
  ips: string[];
  identityFile: string;
  knownHostsFile: string;
  /** Path of a file on a host's own filesystem. */
  path(ip: string, hostPath: string): string;
  stopHost(ip: string): Promise<void>;
  startHost(ip: string): Promise<void>;
  /** Freeze / thaw every process of a host (a hung machine: TCP connects, nothing answers). */
  pauseHost(ip: string): Promise<void>;
  resumeHost(ip: string): Promise<void>;
  down(): Promise<void>;
}

let base = 0;
/** A loopback /24 nobody else in this test run uses (test files run in parallel). */
export function uniqueBase(): string {
  base++;
  return `127.${100 + (process.pid % 100)}.${(base * 7 + Math.floor(Math.random() * 200)) % 250 + 1}`;
}

export async function startFleet(dir: string, count: number, prefix = uniqueBase()): Promise<Fleet> {
  await run(SCRIPT, ['up', dir, String(count), prefix], { timeout: 120_000 });
  const ips = (await readFile(join(dir, 'hosts.txt'), 'utf8')).split('\n').filter(Boolean);
  return {
    dir, ips,
    identityFile: join(dir, 'id_ed25519'),
    knownHostsFile: join(dir, 'known_hosts'),
    path: (ip, hostPath) => join(dir, 'hosts', ip, 'root', hostPath.replace(/^\/+/, '')),
    stopHost: async (ip) => { await run(SCRIPT, ['stop-host', dir, ip]); },
    startHost: async (ip) => { await run(SCRIPT, ['start-host', dir, ip]); },
    pauseHost: async (ip) => { await run(SCRIPT, ['pause-host', dir, ip]); },
    resumeHost: async (ip) => { await run(SCRIPT, ['resume-host', dir, ip]); },
    down: async () => { await run(SCRIPT, ['down', dir]); },
  };
}
