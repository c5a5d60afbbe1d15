// Every SQLite migration has a PostgreSQL sibling of the same name and vice versa, and db/*.ts stays portable:
// SQLite-only SQL appears only in an explicit dialect branch, and no code reads SQLite's lastID (use q.insert).
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { listMigrations, MIGRATIONS_DIR, PG_MIGRATIONS_DIR } from '../../server/src/db/migrate.js';

const SERVER = join(import.meta.dirname, '../../server/src');

test('every SQLite migration has a PostgreSQL sibling (db/migrations/pg/, same file name) and vice versa', () => {
  const lite = listMigrations(MIGRATIONS_DIR).map((m) => m.name);
  const pg = listMigrations(PG_MIGRATIONS_DIR).map((m) => m.name);
  assert.deepEqual(lite.filter((n) => !pg.includes(n)), [], 'SQLite migrations without a PostgreSQL sibling (README "PostgreSQL": writing a sibling)');
  assert.deepEqual(pg.filter((n) => !lite.includes(n)), [], 'PostgreSQL migrations without a SQLite original');
  // Files that do not match NNN_name.sql would be skipped silently by both runners.
  for (const dir of [MIGRATIONS_DIR, PG_MIGRATIONS_DIR]) {
    const stray = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && !/^\d{3}_[a-z0-9_]+\.sql$/.test(e.name)).map((e) => e.name);
    assert.deepEqual(stray, [], `${dir}: files the migration runner ignores`);
  }
});

test('PostgreSQL migrations avoid SQLite-only syntax', () => {
  const sqliteOnly = /\bAUTOINCREMENT\b|\bPRAGMA\b|\bINSERT OR\b|\bREAL\b|\bdatetime\(|\bstrftime\(|^\s+user\s/im;
  for (const m of listMigrations(PG_MIGRATIONS_DIR)) assert.doesNotMatch(m.sql.replace(/--.*$/gm, ''), sqliteOnly, m.name);
});

function serverFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? serverFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

test('db/*.ts is portable: SQLite-only SQL only in a dialect branch, ids only through insert()', () => {
  const sqliteOnly = /\bgroup_concat\(|\bjson_extract\(|\bdatetime\(|\bstrftime\(|\bjulianday\(|\bunixepoch\(|\bINSERT OR (IGNORE|REPLACE)\b|\bGLOB\b|\bIFNULL\(|\bchar\(\d/;
  const bad: string[] = [];
  for (const file of serverFiles(SERVER)) {
    const rel = file.slice(SERVER.length + 1);
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      if (/\.lastID\b/.test(line) && rel !== 'db/connection.ts') bad.push(`${rel}:${i + 1}: reads lastID (use q.insert)`);
      if (/UNIQUE constraint failed/.test(line) && rel !== 'db/errors.ts') bad.push(`${rel}:${i + 1}: reads SQLite's unique-violation text (use isUniqueViolation)`);
      if (rel.startsWith('db/') && sqliteOnly.test(line) && !/dialect|sqlite:/.test(line)) bad.push(`${rel}:${i + 1}: SQLite-only SQL outside a dialect branch`);
    });
  }
  assert.deepEqual(bad, []);
});
