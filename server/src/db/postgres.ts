// The PostgreSQL store (`db.url: postgres://…`): the same Db/Queryable as db/connection.ts over a `pg` Pool, so that
// db/*.ts runs unchanged on both. The only importer of `pg`.
import pg from 'pg';
import type { Db, Param, Queryable, RunResult } from './connection.js';

/**
 * Advisory lock keys (two-int form, class 'GFLT'). WRITE is taken by every `tx`: write transactions are serialised
 * database-wide as SQLite's BEGIN IMMEDIATE does, across every process sharing the database.
 */
export const LOCK_CLASS = 0x47464c54;
export const LOCKS = { write: 1, leader: 2 } as const;

/** `?` placeholders → `$1…$n`, leaving string literals, quoted identifiers and comments alone. */
export function toPositional(sql: string): string {
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const end = closing(sql, i, c);
      out += sql.slice(i, end);
      i = end - 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      const end = nl === -1 ? sql.length : nl;
      out += sql.slice(i, end);
      i = end - 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      const end = close === -1 ? sql.length : close + 2;
      out += sql.slice(i, end);
      i = end - 1;
    } else if (c === '?') {
      out += `$${++n}`;
    } else {
      out += c;
    }
  }
  return out;
}

/** Index just past the quote closing the one at `start` ('' and "" are escaped quotes). */
function closing(sql: string, start: number, quote: string): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (sql[i] !== quote) continue;
    if (sql[i + 1] === quote) { i++; continue; }
    return i + 1;
  }
  return sql.length;
}

const translated = new Map<string, string>();
/** SQL text is a constant of db/*.ts (plus generated IN lists), so a small cache serves nearly every call. */
function positional(sql: string): string {
  let t = translated.get(sql);
  if (t === undefined) {
    t = toPositional(sql);
    if (translated.size > 2000) translated.clear();
    translated.set(sql, t);
  }
  return t;
}

// COUNT(*) is bigint and SUM numeric: pg returns both as strings; the SQLite store returns numbers. Ids stay far
// below 2^53, so numbers are exact. Per pool (not pg.types globally) so that nothing else in the process changes.
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

type Client = pg.Pool | pg.PoolClient;

function over(c: Client): Queryable {
  const run = async (sql: string, params: Param[] = []): Promise<RunResult> => {
    const r = await c.query(positional(sql), params);
    return { lastID: 0, changes: r.rowCount ?? 0 };
  };
  return {
    dialect: 'postgres',
    run,
    insert: async (sql, params = []) => {
      const r = await c.query<{ id: number }>(`${positional(sql)} RETURNING id`, params);
      if (!r.rows[0]) throw new Error('insert() added no row (an ON CONFLICT DO NOTHING insert has no id: use run())');
      return r.rows[0].id;
    },
    get: async <T>(sql: string, params: Param[] = []) => (await c.query(positional(sql), params)).rows[0] as T | undefined,
    all: async <T>(sql: string, params: Param[] = []) => (await c.query(positional(sql), params)).rows as T[],
    exec: async (sql) => { await c.query(sql); },
  };
}

/** True when the database sorts text by code point, as SQLite does (ORDER BY ip, unit… must read the same). */
export function codePointCollation(collate: string): boolean {
  return /^(C|POSIX)([.@].*)?$/i.test(collate);
}

/** Connect to a PostgreSQL database; fails at start when it is unreachable or sorts text by a locale. */
export async function openPostgres(url: string, opts: { max?: number } = {}): Promise<Db> {
  // allowExitOnIdle: idle connections alone do not keep the process alive (the HTTP server does, while it runs).
  // idle_in_transaction_session_timeout: a process that stalls inside a transaction (SIGSTOP, a GC pause, a hung
  // box) holds the write lock; the server ends its session after 10 s so the other processes go on.
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, types, application_name: 'gitfleet', allowExitOnIdle: true, idle_in_transaction_session_timeout: 10_000 });
  // An idle connection that breaks is dropped by the pool; the next query opens another and reports its own error.
  pool.on('error', () => undefined);
  try {
    // SELECT *: the locale columns differ between versions (datlocprovider since 15; an ICU default sorts by locale).
    const { rows } = await pool.query<{ datname: string; datcollate: string; datlocprovider?: string; daticulocale?: string; datlocale?: string }>(
      'SELECT * FROM pg_database WHERE datname = current_database()');
    const d = rows[0]!;
    const icu = d.datlocprovider === 'i' ? (d.daticulocale ?? d.datlocale ?? 'icu') : null;
    const locale = icu ?? d.datcollate;
    if (icu || !codePointCollation(locale)) {
      throw new Error(`db.url: database ${d.datname} sorts text by locale ${locale}; gitfleet needs C collation (create it with: CREATE DATABASE … TEMPLATE template0 LOCALE_PROVIDER libc LC_COLLATE 'C' LC_CTYPE 'C')`);
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const base = over(pool);
  // In-process queue: transactions of this process wait here instead of each holding a pooled connection while
  // they wait for the database-wide write lock.
  let chain: Promise<unknown> = Promise.resolve();
  const queued = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  };
  const tx = <T>(fn: (q: Queryable) => Promise<T>): Promise<T> => queued(async () => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, LOCKS.write]);
      const out = await fn(over(client));
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => { broken = e; });
      throw err;
    } finally {
      client.release(broken);
    }
  });
  return {
    ...base,
    // Writes outside a transaction take the write lock too (as every SQLite statement waits for the mutex): a
    // read-then-write transaction never has a row changed under it between its read and its write. Reads do not wait.
    run: (sql, params) => tx((q) => q.run(sql, params)),
    insert: (sql, params) => tx((q) => q.insert(sql, params)),
    exec: (sql) => tx((q) => q.exec(sql)),
    tx,
    close: () => queued(() => pool.end()),
  };
}

/**
 * A connection of its own, outside the pool, for what belongs to a session: the leader's advisory lock and LISTEN.
 * Keepalives make a dead peer show within seconds (README "Scale-out": behind a pooler this must be a direct or
 * session-mode connection). The caller owns it: it handles 'error'/'end' and calls end().
 */
export async function connectDedicated(url: string, purpose: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, types, application_name: `gitfleet ${purpose}`, keepAlive: true, keepAliveInitialDelayMillis: 2000 });
  await client.connect();
  return client;
}
