// The IPs of a manual run, from a JSON list or an uploaded file (one IP per line, or CSV with an `ip` column). PURE.
import { SocketAddress, isIP } from 'node:net';
import { parse as parseCsv } from 'csv-parse/sync';
import { ValidationError } from '../errors.js';

const SHOWN_BAD = 5;

/** The canonical text of an IP (IPv6 lower-case and compressed, as Elasticsearch prints bucket keys), or null if not an IP. */
export function canonicalIp(value: string): string | null {
  const v = value.trim();
  // A zone id (fe80::1%eth0) passes isIP but is not a term an ip field can hold.
  if (v.includes('%')) return null;
  const family = isIP(v);
  if (family === 4) return v;
  if (family === 6) return new SocketAddress({ address: v, family: 'ipv6' }).address;
  return null;
}

/** Validate and de-duplicate (keeping order); `where(i)` names entry i in the error message. */
function canonicalList(values: string[], field: string, max: number, where: (i: number) => string): string[] {
  if (values.length === 0) throw new ValidationError(`${field} must name at least one IP address`, field);
  const bad: string[] = [];
  let badCount = 0;
  const out = new Set<string>();
  values.forEach((raw, i) => {
    const ip = canonicalIp(raw);
    if (ip) out.add(ip);
    else if (++badCount <= SHOWN_BAD) bad.push(`${where(i)}: ${JSON.stringify(raw.length > 64 ? `${raw.slice(0, 64)}…` : raw)}`);
  });
  if (badCount) {
    const more = badCount > SHOWN_BAD ? ` and ${badCount - SHOWN_BAD} more` : '';
    throw new ValidationError(`${field} holds ${badCount} value(s) that are not IPv4/IPv6 addresses: ${bad.join(', ')}${more}`, field);
  }
  if (out.size > max) throw new ValidationError(`${field} names ${out.size} IPs; at most ${max} per run (esSync.maxManualIps)`, field);
  return [...out];
}

/** A JSON body's `ips`: a non-empty array of IP strings. */
export function parseIpList(value: unknown, max: number, field = 'ips'): string[] {
  if (!Array.isArray(value)) throw new ValidationError(`${field} must be an array of IP addresses; got ${JSON.stringify(value)?.slice(0, 80)}`, field);
  if (value.length > max * 2) throw new ValidationError(`${field} names ${value.length} entries; at most ${max} IPs per run (esSync.maxManualIps)`, field);
  const strings = value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v)));
  return canonicalList(strings, field, max, (i) => `[${i}]`);
}

/** Header cells of the first line, lower-cased and unquoted. */
function headerCells(line: string): string[] {
  return line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1').trim().toLowerCase());
}

/** An uploaded file: CSV when its first line has an `ip` header cell, else one IP per line (blank lines and # comments skipped). */
export function parseIpFile(content: Buffer, max: number, field = 'file'): string[] {
  const text = content.toString('utf8').replace(/^\uFEFF/, '');
  if (text.includes('\0')) throw new ValidationError(`${field} must be a text file (one IP per line, or CSV with an ip column)`, field);
  const lines = text.split(/\r?\n/);
  const first = lines.findIndex((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (first < 0) throw new ValidationError(`${field} is empty: it holds no IP addresses`, field);
  const header = headerCells(lines[first]!);
  if (header.includes('ip')) {
    let rows: Array<Record<string, string>>;
    try {
      rows = parseCsv(lines.slice(first).join('\n'), { columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()), skip_empty_lines: true, trim: true, relax_column_count: true });
    } catch (err) {
      throw new ValidationError(`${field} is not valid CSV: ${(err as Error).message}`, field);
    }
    if (rows.length === 0) throw new ValidationError(`${field} is empty: the CSV has a header but no rows`, field);
    return canonicalList(rows.map((r) => r.ip ?? ''), field, max, (i) => `CSV row ${i + 1}`);
  }
  if (lines[first]!.includes(',')) throw new ValidationError(`${field} looks like CSV but has no "ip" column in its header line`, field);
  const entries: Array<{ line: number; value: string }> = [];
  lines.forEach((l, i) => {
    const v = l.trim();
    if (v !== '' && !v.startsWith('#')) entries.push({ line: i + 1, value: v });
  });
  return canonicalList(entries.map((e) => e.value), field, max, (i) => `line ${entries[i]!.line}`);
}
