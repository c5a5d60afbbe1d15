// One page of a table, newest first, with the total under the same filters. Filters are SQL fragments with
// bound parameters; the table name is a constant of the caller, never user input.
import type { Param, Queryable } from './connection.js';

export type Filter = [sql: string, param: Param];

export async function pageNewestFirst<Row>(q: Queryable, table: string, filters: Array<Filter | false | undefined>, limit: number, offset: number): Promise<{ rows: Row[]; total: number }> {
  const active = filters.filter((f): f is Filter => !!f);
  const w = active.length ? ` WHERE ${active.map(([sql]) => sql).join(' AND ')}` : '';
  const params = active.map(([, p]) => p);
  const rows = await q.all<Row>(`SELECT * FROM ${table}${w} ORDER BY id DESC LIMIT ? OFFSET ?`, [...params, limit, offset]);
  const total = (await q.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}${w}`, params))?.n ?? 0;
  return { rows, total };
}
