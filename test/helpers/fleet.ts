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

/** A random loopback /24 (test files run in parallel; fleet.sh refuses an address already in use). */
export function uniqueBase(): string {
  return `127.${100 + Math.floor(Math.random() * 100)}.${1 + Math.floor(Math.random() * 250)}`;
}

export async function startFleet(dir: string, count: number, prefix?: string): Promise<Fleet> {
  for (let attempt = 0; ; attempt++) {
    try {
      await run(SCRIPT, ['up', dir, String(count), prefix ?? uniqueBase()], { timeout: 120_000 });
      break;
    } catch (err) {
      // Another fleet holds that range: take another one (only when the caller did not ask for one).
      if (prefix || attempt >= 3 || !/already in use/.test(String((err as { stderr?: string }).stderr))) throw err;
      await run(SCRIPT, ['down', dir]).catch(() => undefined);
    }
  }
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
