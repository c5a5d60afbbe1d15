// The README's start command on a fresh copy of the repo (no node_modules, no Node of its own, no build):
// it installs what is missing, starts the compiled service, answers, and stops cleanly on SIGTERM with no process
// left behind; a second run on the now-ready copy reinstalls nothing. Uses the npm cache, no other network.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/net.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
/** What a fresh clone does not have: installed packages, the fetched Node, the build, runtime state. */
const NOT_IN_A_CLONE = new Set(['.git', 'node_modules', '.runtime', 'server/dist', 'data']);
const START_COMMAND = ['scripts/setup.sh', 'start'];

/** The environment of a login shell, not of `npm test`: no npm_* variables, no NODE_OPTIONS/NODE_TEST_CONTEXT, no PATH
 * entries into this checkout (the machine's own settings, e.g. NODE_EXTRA_CA_CERTS for a TLS proxy, stay). */
function cleanEnv(port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_|^NODE_(OPTIONS|TEST_CONTEXT|ENV)$|^GITFLEET_|^INIT_CWD$/i.test(k)) env[k] = v;
  env.PATH = (process.env.PATH ?? '').split(':').filter((p) => p && !resolve(p).startsWith(ROOT + sep)).join(':');
  env.PORT = String(port);
  return env;
}

interface Proc { pid: number; state: string; pgid: number; cmdline: string; cwd: string }
function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, , pgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      let cwd = '';
      try { cwd = readlinkSync(`/proc/${name}/cwd`); } catch { /* another user's process */ }
      out.push({ pid: Number(name), state: state!, pgid: Number(pgid), cmdline, cwd });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

async function waitHealthy(port: number, child: ChildProcess, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`start command exited (${child.exitCode ?? child.signalCode}) before /healthz answered`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return await res.json();
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`/healthz did not answer within ${timeoutMs} ms`);
}

interface Run { child: ChildProcess; stderr: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }
function startCommand(dir: string, port: number): Run {
  // Own process group, as a terminal would give it: afterwards nothing may be left in it.
  const child = spawn('bash', START_COMMAND, { cwd: dir, env: cleanEnv(port), detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-20_000); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, stderr: () => err, exited };
}

/** SIGTERM to the service; it must exit 0 and leave no process in its group or working in the copy. */
async function stopCleanly(run: Run, dir: string): Promise<void> {
  const pid = run.child.pid!;
  // The start command execs the service: the pid we started is the node process running the compiled server.
  const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  assert.match(cmd[0]!, /node$/, cmd.join(' '));
  assert.deepEqual(cmd.slice(1), ['--max-semi-space-size=8', 'server/dist/main.js'], 'runs the compiled output, without a TypeScript loader');
  process.kill(pid, 'SIGTERM');
  const result = await Promise.race([run.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no exit 20 s after SIGTERM')), 20_000))]);
  assert.deepEqual(result, { code: 0, signal: null }, run.stderr().slice(-3000));
  await new Promise((r) => setTimeout(r, 200));
  // Zombies are exited processes (here PID 1 may be slow to reap orphans): only running ones count.
  const left = processes().filter((p) => p.state !== 'Z' && (p.pgid === pid || p.cwd.startsWith(dir) || p.cmdline.includes(dir)));
  assert.deepEqual(left, [], 'no process left behind');
}

describe('set-up: the README start command on a fresh copy', { timeout: 900_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gf-setup-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('installs, builds and starts; answers /healthz and the API; SIGTERM exits 0 with nothing left; a re-run installs nothing', async (t) => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.ok(readme.includes(`bash ${START_COMMAND.join(' ')}`), 'the README names this start command');
    cpSync(ROOT, dir, { recursive: true, filter: (src) => !NOT_IN_A_CLONE.has(relative(ROOT, src)) });

    const port = await freePort();
    const t0 = Date.now();
    const first = startCommand(dir, port);
    const health = await waitHealthy(port, first.child, 840_000);
    const setupMs = Date.now() - t0;
    assert.equal((health as { status: string }).status, 'ok');
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/deployments`);
    assert.equal(res.status, 200);
    const body = await res.json() as { total?: number; items?: unknown[] };
    assert.ok(Array.isArray(body.items), JSON.stringify(body));
    // The set-up built the dashboard too: / leads to it and it loads its bundle.
    const ui = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(ui.url, `http://127.0.0.1:${port}/ui/`);
    assert.match(await ui.text(), /<script type="module"[^>]+src="\/ui\/assets\/index-[\w-]+\.js"/);
    assert.match(first.stderr(), /npm ci/, 'the fresh copy had to install its packages');
    assert.match(first.stderr(), /build \(tsc/);
    await stopCleanly(first, dir);

    const t1 = Date.now();
    const second = startCommand(dir, port);
    await waitHealthy(port, second.child, 60_000);
    const rerunMs = Date.now() - t1;
    assert.doesNotMatch(second.stderr(), /npm ci|build \(tsc|installing Node|apt-get install/, 'a ready copy reinstalls nothing');
    await stopCleanly(second, dir);
    t.diagnostic(`set-up on a fresh copy: ${(setupMs / 1000).toFixed(1)} s to healthy; re-run on the ready copy: ${(rerunMs / 1000).toFixed(1)} s`);
  });
});
