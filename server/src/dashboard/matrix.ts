// PURE: the units × hosts matrix: which commit each host holds for each unit and how that stands, in a compact
// shape (indexes into three tables) so 5,000 hosts × 50 units stays a few MB of JSON.
import type { DriftCell, HeldRow, LastPushRow } from '../db/matrix.js';

/** failed beats drifted beats behind: the worst thing an operator must know about the cell. */
export type CellState = 'in_sync' | 'behind' | 'drifted' | 'failed' | 'unreachable';

export interface Matrix {
  /** target: the commit the unit should be at (its latest whole-unit, real deployment's); a host elsewhere is behind. */
  units: Array<{ unit: string; target: string | null }>;
  hosts: Array<{ ip: string; hostname: string | null }>;
  commits: string[];
  /** [unit index, host index, commit index (-1: none held), state] */
  cells: Array<[number, number, number, CellState]>;
}

export function buildMatrix(input: {
  unitCommits: Map<string, string | null>; held: HeldRow[]; lastPush: LastPushRow[]; drift: DriftCell[]; hostnames: Map<string, string | null>;
}): Matrix {
  // Index units and hosts first, so a cell is found by a number (250,000 string keys cost more than the rest).
  const unitNames = [...new Set([...input.unitCommits.keys(), ...input.held.map((h) => h.unit), ...input.lastPush.map((p) => p.unit), ...input.drift.map((d) => d.unit)])].sort();
  const ips = [...new Set([...input.held.map((h) => h.ip), ...input.lastPush.map((p) => p.ip), ...input.drift.map((d) => d.ip)])].sort(compareIp);
  const uIdx = new Map(unitNames.map((u, i) => [u, i]));
  const hIdx = new Map(ips.map((ip, i) => [ip, i]));
  type Cell = { u: number; h: number; commit?: string; deployedAt?: string; push?: LastPushRow; drift?: DriftCell };
  const cells = new Map<number, Cell>();
  const at = (unit: string, ip: string): Cell => {
    const u = uIdx.get(unit)!;
    const h = hIdx.get(ip)!;
    const k = u * ips.length + h;
    let c = cells.get(k);
    if (!c) cells.set(k, (c = { u, h }));
    return c;
  };
  for (const x of input.held) { const c = at(x.unit, x.ip); c.commit = x.commit; c.deployedAt = x.deployedAt; }
  for (const p of input.lastPush) at(p.unit, p.ip).push = p;
  for (const d of input.drift) at(d.unit, d.ip).drift = d;
  const commits: string[] = [];
  const cIdx = new Map<string, number>();
  const commitIndex = (c?: string) => {
    if (!c) return -1;
    let i = cIdx.get(c);
    if (i === undefined) { i = commits.length; cIdx.set(c, i); commits.push(c); }
    return i;
  };
  const out: Matrix['cells'] = [];
  for (const c of cells.values()) {
    const target = input.unitCommits.get(unitNames[c.u]!) ?? null;
    let state: CellState = 'in_sync';
    // A failure newer than the last success wins; a drift check counts only if it is newer than the host's commit.
    if (c.push?.status === 'failed') state = 'failed';
    else if (c.drift?.state === 'drifted' && (!c.deployedAt || c.drift.checkedAt >= c.deployedAt)) state = 'drifted';
    else if (c.drift?.state === 'unreachable' && (!c.deployedAt || c.drift.checkedAt >= c.deployedAt)) state = 'unreachable';
    else if (!c.commit || (target && c.commit !== target)) state = 'behind';
    out.push([c.u, c.h, commitIndex(c.commit), state]);
  }
  out.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
  return {
    units: unitNames.map((u) => ({ unit: u, target: input.unitCommits.get(u) ?? null })),
    hosts: ips.map((ip) => ({ ip, hostname: input.hostnames.get(ip) ?? null })),
    commits, cells: out,
  };
}

/** IPv4 in numeric order (10.0.0.2 before 10.0.0.10); anything else after, as text. */
export function compareIp(a: string, b: string): number {
  const n = (s: string) => (/^\d+\.\d+\.\d+\.\d+$/.test(s) ? s.split('.').reduce((x, p) => x * 256 + Number(p), 0) : Infinity);
  const d = n(a) - n(b);
  return Number.isNaN(d) || d === 0 ? a.localeCompare(b) : d;
}
