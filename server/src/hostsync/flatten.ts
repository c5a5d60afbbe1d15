// PURE: generic JSON/YAML/CSV objects → SourceRecords (file and http sources): nested keys flattened with ".".
import { z } from 'zod';
import { UpstreamDataError } from '../errors.js';
import type { SourceRecord } from './source.js';

/** Keys naming which fields carry identity and connection data. */
export const objectFieldOptions = {
  /** Field with the stable identity; when a record lacks it the IP is used. */
  uidField: z.string().min(1).default('uid'),
  ipField: z.string().min(1).default('ip'),
  hostnameField: z.string().min(1).default('hostname'),
};
export interface ObjectFieldOptions { uidField: string; ipField: string; hostnameField: string }

/** Flatten {a: {b: 1}, c: [x, y]} → {"a.b": "1", c: "x,y"}; nulls are left out. */
export function flatten(obj: Record<string, unknown>, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix + k;
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) out[key] = v.map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x))).join(',');
    else if (typeof v === 'object') flatten(v as Record<string, unknown>, `${key}.`, out);
    else out[key] = String(v);
  }
  return out;
}

/** The list inside a parsed document: the document itself, or the array at `itemsPath` (dotted), or {hosts: [...]}. */
export function itemsOf(doc: unknown, itemsPath: string | undefined, what: string): unknown[] {
  let cur: unknown = doc;
  if (itemsPath) {
    for (const k of itemsPath.split('.')) cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[k] : undefined;
  } else if (!Array.isArray(doc) && typeof doc === 'object' && doc !== null && Array.isArray((doc as Record<string, unknown>).hosts)) {
    cur = (doc as Record<string, unknown>).hosts;
  }
  if (!Array.isArray(cur)) throw new UpstreamDataError(`${what}: expected a list of hosts${itemsPath ? ` at "${itemsPath}"` : ' (or {hosts: [...]})'}`);
  return cur;
}

/** One object → a record; `uid` is "" when neither the uid field nor the IP is present (the job then trusts no deletions). */
export function recordFromObject(item: unknown, index: number, o: ObjectFieldOptions, what: string): SourceRecord {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new UpstreamDataError(`${what}: entry ${index} is not an object`);
  const fields = flatten(item as Record<string, unknown>);
  const ip = fields[o.ipField]?.trim() || undefined;
  const port = fields.port === undefined || fields.port === '' ? null : Number(fields.port);
  return {
    uid: fields[o.uidField]?.trim() || ip || '',
    ip,
    hostname: fields[o.hostnameField]?.trim() || null,
    port,
    user: fields.user?.trim() || null,
    fields,
  };
}
