// The only importer of sqlite3: a promise wrapper with one mutex so a transaction never interleaves with other statements.
import sqlite3 from 'sqlite3';

export type Param = string | number | bigint | null | Buffer;
/** `lastID` is SQLite's only: code that needs a new row's id uses `insert` (portable to PostgreSQL). */
export interface RunResult { lastID: number; changes: number }
/** Which SQL the store speaks: db/*.ts branch on it only where no portable statement exists. */
export type Dialect = 'sqlite' | 'postgres';

/** Statement runner handed to repositories and to `tx` callbacks (db/postgres.ts implements it too). */
export interface Queryable {
  readonly dialect: Dialect;
  run(sql: string, params?: Param[]): Promise<RunResult>;
  /** An INSERT into a table whose key is an integer `id`; returns the new row's id (RETURNING id on PostgreSQL). */
  insert(sql: string, params?: Param[]): Promise<number>;
  get<T>(sql: string, params?: Param[]): Promise<T | undefined>;
  all<T>(sql: string, params?: Param[]): Promise<T[]>;
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  /** BEGIN IMMEDIATE → fn → COMMIT (ROLLBACK on throw), holding the mutex throughout. fn must do no network or git work. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

function raw(db: sqlite3.Database): Queryable {
  const run = (sql: string, params: Param[] = []) => new Promise<RunResult>((resolve, reject) => {
    db.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
      if (err) reject(err); else resolve({ lastID: this.lastID, changes: this.changes });
    });
  });
  return {
    dialect: 'sqlite',
    insert: async (sql, params) => (await run(sql, params)).lastID,
    run,
    get: <T>(sql: string, params: Param[] = []) => new Promise<T | undefined>((resolve, reject) => {
      db.get(sql, params, (err, row) => (err ? reject(err) : resolve(row as T | undefined)));
    }),
    all: <T>(sql: string, params: Param[] = []) => new Promise<T[]>((resolve, reject) => {
      db.all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows as T[])));
    }),
    exec: (sql) => new Promise((resolve, reject) => db.exec(sql, (err) => (err ? reject(err) : resolve()))),
  };
}

/** Open (creating) a database file with WAL, foreign keys and a busy timeout. */
export async function openDb(file: string): Promise<Db> {
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(file, (err) => (err ? reject(err) : resolve(d)));
  });
  const q = raw(db);
  let chain: Promise<unknown> = Promise.resolve();
  // Every statement waits its turn: a statement from another task never lands inside someone's BEGIN..COMMIT.
  const locked = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  };
  const wrapped: Db = {
    dialect: 'sqlite',
    insert: (sql, params) => locked(() => q.insert(sql, params)),
    run: (sql, params) => locked(() => q.run(sql, params)),
    get: (sql, params) => locked(() => q.get(sql, params)),
    all: (sql, params) => locked(() => q.all(sql, params)),
    exec: (sql) => locked(() => q.exec(sql)),
    tx: (fn) => locked(async () => {
      await q.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(q);
        await q.exec('COMMIT');
        return out;
      } catch (err) {
        await q.exec('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }),
    close: () => locked(() => new Promise<void>((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())))),
  };
  await wrapped.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;');
  return wrapped;
}
