// A private PostgreSQL cluster for a test run: initdb into a temp dir (as the `postgres` user when running as root),
// started on a free loopback port with its unix socket in that dir and fsync off, one database per test, stopped
// at the end (also when the process dies of a failure). Never touches the system cluster.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import pg from 'pg';

/** Where initdb/pg_ctl are: $GITFLEET_PG_BIN, else the newest /usr/lib/postgresql/N/bin, else `pg_config --bindir`. */
export function findPostgresBin(): { bin: string } | { reason: string } {
  const env = process.env.GITFLEET_PG_BIN;
  if (env) return existsSync(join(env, 'initdb')) ? { bin: env } : { reason: `GITFLEET_PG_BIN=${env} has no initdb` };
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return { bin: join(root, v, 'bin') };
  }
  const r = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const dir = r.status === 0 ? r.stdout.trim() : '';
  if (dir && existsSync(join(dir, 'initdb'))) return { bin: dir };
  return { reason: 'no PostgreSQL server binaries (initdb) found: install the `postgresql` package (scripts/setup.sh --test does)' };
}

/** Why PostgreSQL tests cannot run here, or null when they can. */
export function postgresUnavailable(): string | null {
  if (process.env.GITFLEET_TEST_PG_ADMIN) return null;
  const found = findPostgresBin();
  if ('reason' in found) return found.reason;
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) return 'running as root but there is no `postgres` user to run initdb as';
  return null;
}

/**
 * Call at the top of a PostgreSQL test file: returns true when the tests can run; else registers one skipped test
 * whose name says why, prints it to stderr in capitals, and returns false (GITFLEET_REQUIRE_PG=1 makes it a failure).
 */
export function requirePostgres(): boolean {
  const reason = postgresUnavailable();
  if (!reason) return true;
  const msg = `POSTGRESQL TESTS SKIPPED: ${reason}`;
  process.stderr.write(`\n${'!'.repeat(msg.length)}\n${msg}\n${'!'.repeat(msg.length)}\n\n`);
  if (process.env.GITFLEET_REQUIRE_PG === '1') test(msg, () => { throw new Error(`${reason} (GITFLEET_REQUIRE_PG=1)`); });
  else test(msg, { skip: reason }, () => undefined);
  return false;
}

export interface TestPostgres {
  /** Superuser URL of the maintenance database. */
  adminUrl: string;
  /** A new, empty database (C collation, as gitfleet requires); returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function run(file: string, args: string[], asPostgres: { uid: number; gid: number } | null): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(asPostgres ?? {}), env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, out }));
  });
}

let counter = 0;

function withAdmin(adminUrl: string, stop: () => Promise<void>): TestPostgres {
  return {
    adminUrl,
    async createDatabase(prefix = 'gitfleet_test') {
      const name = `${prefix}_${process.pid}_${++counter}_${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`);
      } finally {
        await c.end();
      }
      const u = new URL(adminUrl);
      u.pathname = `/${name}`;
      return u.toString();
    },
    stop,
  };
}

const PREFIX = 'gitfleet-pg-';

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Clusters whose test process died without stopping them (SIGKILL, a timeout's kill): stopped and removed. */
function sweepOrphans(bin: string): void {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(PREFIX))) {
    const dir = join(tmpdir(), name);
    let owner = 0;
    try { owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8')); } catch { continue; }
    if (!owner || alive(owner)) continue;
    const data = join(dir, 'data');
    if (existsSync(join(data, 'postmaster.pid'))) {
      const st = statSync(data);
      spawnSync(join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', 'immediate', '-w'], { stdio: 'ignore', uid: st.uid, gid: st.gid });
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Start a private cluster; stopped by stop() or, failing that, when this process exits (or by the next run's sweep). */
export async function startPostgres(): Promise<TestPostgres> {
  const found = findPostgresBin();
  if ('reason' in found) throw new Error(found.reason);
  sweepOrphans(found.bin);
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  let ids: { uid: number; gid: number } | null = null;
  if (asRoot) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    ids = { uid, gid };
    chownSync(dir, uid, gid);
  }
  const init = await run(join(found.bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], ids);
  if (init.code !== 0) { rmSync(dir, { recursive: true, force: true }); throw new Error(`initdb failed: ${init.out}`); }
  const port = await freePort();
  appendFileSync(join(data, 'postgresql.conf'), [
    `port = ${port}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${dir}'`,
    'fsync = off', 'synchronous_commit = off', 'full_page_writes = off', 'max_connections = 200', "log_min_messages = 'warning'", '',
  ].join('\n'));
  const logFile = join(dir, 'postgres.log');
  writeFileSync(logFile, '');
  if (ids) chownSync(logFile, ids.uid, ids.gid);
  const pgCtl = join(found.bin, 'pg_ctl');
  // Safety net for a test process that dies of a failure: stop the cluster synchronously on exit.
  const onExit = () => {
    spawnSync(pgCtl, ['stop', '-D', data, '-m', 'immediate', '-w'], { stdio: 'ignore', ...(ids ?? {}) });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  // A signal ends the process without 'exit': stop the cluster, then die of the same signal.
  const onSignal = (sig: NodeJS.Signals) => { onExit(); process.kill(process.pid, sig); };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, onSignal);
  const start = await run(pgCtl, ['start', '-D', data, '-w', '-t', '60', '-l', logFile], ids);
  if (start.code !== 0) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    onExit();
    process.removeListener('exit', onExit);
    throw new Error(`pg_ctl start failed: ${start.out}\n${log}`);
  }
  let stopped = false;
  return withAdmin(`postgres://postgres@127.0.0.1:${port}/postgres`, async () => {
    if (stopped) return;
    stopped = true;
    await run(pgCtl, ['stop', '-D', data, '-m', 'fast', '-w'], ids);
    rmSync(dir, { recursive: true, force: true });
    process.removeListener('exit', onExit);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeListener(sig, onSignal);
  });
}

let shared: Promise<TestPostgres> | undefined;

/**
 * The cluster of this test process: the one named by $GITFLEET_TEST_PG_ADMIN (started by a parent run), else a
 * private one started on first use and stopped when the process exits.
 */
export function testPostgres(): Promise<TestPostgres> {
  const admin = process.env.GITFLEET_TEST_PG_ADMIN;
  shared ??= admin ? Promise.resolve(withAdmin(admin, async () => undefined)) : startPostgres();
  return shared;
}
