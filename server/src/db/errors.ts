// PURE: what a store error means, in both dialects (SQLite's message text, PostgreSQL's SQLSTATE and fields).

/** True when err is a unique violation on table(column): "UNIQUE constraint failed: t.c" / 23505 "Key (c)=…". */
export function isUniqueViolation(err: unknown, table: string, column?: string): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown; table?: unknown; detail?: unknown };
  if (e.code === '23505') return e.table === table && (column === undefined || (typeof e.detail === 'string' && e.detail.startsWith(`Key (${column})=`)));
  const m = /UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)/.exec(e.message);
  return !!m && m[1]!.split(', ').some((tc) => column === undefined ? tc.startsWith(`${table}.`) : tc === `${table}.${column}`);
}
