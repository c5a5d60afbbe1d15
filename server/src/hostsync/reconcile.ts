// PURE: compare a source's hosts in the inventory with its listing by uid and hash → what to add, modify and delete.
// IP conflicts (with hosts of other writers, or inside the listing) become per-record errors; nothing of others is touched.
import type { HostInput } from '../db/hosts.js';

/** A host of this source as stored. */
export interface LocalHost { id: number; uid: string; hash: string | null; ip: string }

/** A usable record of the listing. */
export interface Candidate { uid: string; hash: string; host: HostInput }

export interface ReconcileInput {
  local: LocalHost[];
  records: Candidate[];
  /** Uids the listing has but could not use (per-record errors): their hosts are neither modified nor deleted. */
  keep?: Iterable<string>;
  /** IPs held by hosts of other writers → their hosts.source ('manual', another source's name, ...). */
  foreign: ReadonlyMap<string, string>;
  /** False when the listing cannot be trusted for deletions (records without identity). */
  allowDeletes?: boolean;
}

export interface Plan {
  add: Candidate[];
  modify: Array<Candidate & { id: number; previousIp: string }>;
  delete: LocalHost[];
  unchanged: number;
  errors: Array<{ uid: string; error: string }>;
}

const byUid = <T extends { uid: string }>(a: T, b: T) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0);

export function reconcile(input: ReconcileInput): Plan {
  const errors: Plan['errors'] = [];
  const keep = new Set(input.keep ?? []);

  // Duplicate uids in the listing: ambiguous, so none of them is applied and the local host stays as it is.
  const seen = new Map<string, Candidate>();
  const dup = new Set<string>();
  for (const r of input.records) {
    if (seen.has(r.uid) || keep.has(r.uid)) dup.add(r.uid);
    else seen.set(r.uid, r);
  }
  for (const uid of dup) {
    seen.delete(uid);
    keep.add(uid);
    errors.push({ uid, error: 'uid appears more than once in the listing' });
  }

  // IPs our own hosts keep after this run → their uid (strings shared with the input, nothing formatted per host).
  const ownIps = new Map<string, string>();
  const holderOf = (ip: string): string | undefined => {
    const foreign = input.foreign.get(ip);
    if (foreign !== undefined) return foreign === 'manual' ? 'a manually entered host' : `source ${foreign}`;
    const uid = ownIps.get(ip);
    return uid === undefined ? undefined : `this source (uid ${uid})`;
  };
  const mod: Array<Candidate & { id: number; previousIp: string }> = [];
  const del: LocalHost[] = [];
  let unchanged = 0;
  for (const l of input.local) {
    const r = seen.get(l.uid);
    if (r) seen.delete(l.uid); // what is left in `seen` afterwards is new
    if (r && r.hash === l.hash) { unchanged++; ownIps.set(l.ip, l.uid); }
    else if (r) mod.push({ ...r, id: l.id, previousIp: l.ip });
    else if (keep.has(l.uid) || input.allowDeletes === false) ownIps.set(l.ip, l.uid);
    else del.push(l);
  }
  const add = [...seen.values()];

  // Claim IPs in uid order; a rejected modify keeps its old IP, which may push out an earlier claim: repeat until stable.
  const candidates: Array<Candidate & { id?: number; previousIp?: string }> = [...mod, ...add].sort(byUid);
  const rejected = new Map<string, string>();
  for (;;) {
    const claimed = new Map<string, string>();
    let newlyRejected = false;
    for (const c of candidates) {
      if (rejected.has(c.uid)) continue;
      const ip = c.host.ip;
      const holder = holderOf(ip) ?? (claimed.has(ip) ? `this source (uid ${claimed.get(ip)})` : undefined);
      if (holder === undefined) { claimed.set(ip, c.uid); continue; }
      rejected.set(c.uid, `ip ${ip} is already held by ${holder}`);
      if (c.id !== undefined) { ownIps.set(c.previousIp!, c.uid); newlyRejected = true; }
    }
    if (!newlyRejected) break;
  }
  for (const [uid, error] of rejected) errors.push({ uid, error });
  errors.sort(byUid);
  return {
    add: add.filter((c) => !rejected.has(c.uid)),
    modify: mod.filter((c) => !rejected.has(c.uid)),
    delete: del,
    unchanged,
    errors,
  };
}
