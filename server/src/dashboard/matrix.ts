// PURE: the units × hosts matrix in a columnar shape: host list, unit list, commit dictionary and one small integer per
// cell for its state and one for its commit, so 5,000 hosts × 50 units is ~1 MB of JSON (tens of kB gzipped).
import { CELL_STATES, type MatrixRows } from '../db/matrix.js';

/** failed beats drifted beats behind: the worst thing an operator must know about the cell. */
export type CellState = typeof CELL_STATES[number];

export interface Matrix {
  /** target: the commit the unit should be at (its latest whole-unit, real deployment's); a host elsewhere is behind. */
  units: Array<{ unit: string; target: string | null }>;
  /** Host columns: `ips[h]`, `hostnames[h]`. */
  ips: string[];
  hostnames: Array<string | null>;
  commits: string[];
  /** The state names, indexed by the codes in `state`. */
  states: readonly CellState[];
  /** Row-major by host: cell (h, u) is at h × units.length + u. -1: no cell (the host has nothing of the unit). */
  state: number[];
  /** Index into `commits` of what the host holds, -1: nothing. */
  commit: number[];
}

const code = (s: CellState) => CELL_STATES.indexOf(s);

/** failed beats drifted beats unreachable beats behind (not the unit's target commit, or none held). */
export function buildMatrix(rows: MatrixRows, unitCommits: Map<string, string | null>): Matrix {
  const held = rows.held ? rows.held.split(',').map((c) => c.split(' ') as [string, string, string]) : [];
  const units = [...new Set([...unitCommits.keys(), ...rows.failed.map((r) => r.unit), ...rows.drift.map((r) => r.unit)])];
  const ipSet = new Set<string>([...rows.failed.map((r) => r.ip), ...rows.drift.map((r) => r.ip)]);
  const unitSet = new Set(units);
  for (const [u, ip] of held) { unitSet.add(u); ipSet.add(ip); }
  const unitNames = [...unitSet].sort();
  const ips = [...ipSet].sort(compareIp);
  const hIdx = new Map(ips.map((ip, i) => [ip, i]));
  const uIdx = new Map(unitNames.map((u, i) => [u, i]));
  const nu = unitNames.length;
  const at = (unit: string, ip: string) => hIdx.get(ip)! * nu + uIdx.get(unit)!;
  const state = new Array<number>(ips.length * nu).fill(-1);
  const commit = new Array<number>(ips.length * nu).fill(-1);
  const commits: string[] = [];
  const cIdx = new Map<string, number>();
  const IN_SYNC = code('in_sync');
  const BEHIND = code('behind');
  for (const [unit, ip, sha] of held) {
    let c = cIdx.get(sha);
    if (c === undefined) { c = commits.length; cIdx.set(sha, c); commits.push(sha); }
    const target = unitCommits.get(unit);
    const i = at(unit, ip);
    state[i] = target && sha !== target ? BEHIND : IN_SYNC;
    commit[i] = c;
  }
  // Nothing held but a push or check on record: behind, unless what follows says worse.
  for (const r of [...rows.failed, ...rows.drift]) { const i = at(r.unit, r.ip); if (state[i] === -1) state[i] = BEHIND; }
  for (const d of rows.drift) state[at(d.unit, d.ip)] = code(d.state);
  for (const f of rows.failed) state[at(f.unit, f.ip)] = code('failed');
  return {
    units: unitNames.map((u) => ({ unit: u, target: unitCommits.get(u) ?? null })),
    ips, hostnames: ips.map((ip) => rows.hostnames.get(ip) ?? null),
    commits, states: CELL_STATES, state, commit,
  };
}

/** IPv4 in numeric order (10.0.0.2 before 10.0.0.10); anything else after, as text. */
export function compareIp(a: string, b: string): number {
  const n = (s: string) => (/^\d+\.\d+\.\d+\.\d+$/.test(s) ? s.split('.').reduce((x, p) => x * 256 + Number(p), 0) : Infinity);
  const d = n(a) - n(b);
  return Number.isNaN(d) || d === 0 ? a.localeCompare(b) : d;
}
