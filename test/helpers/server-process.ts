// The server as pm2 or a shell runs it: a child process of its own, for tests of signals, crashes and leftovers.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { until } from './wait.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** Start the server on a config file; resolves once `${url}/healthz` answers (its stderr is in the error if not). */
export async function startServerProcess(configFile: string, url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  await until('the server to listen', async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined), 30_000).catch((e: Error) => { throw new Error(`${e.message}: ${err}`); });
  return child;
}

/** Resolves with how the process ended (at once if it already has). */
export function exited(c: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((res) => {
    if (c.exitCode !== null || c.signalCode !== null) res({ code: c.exitCode, signal: c.signalCode });
    else c.once('exit', (code, signal) => res({ code, signal }));
  });
}
