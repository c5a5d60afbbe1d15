// PURE: the matrix page's rows: hosts × units after the filters, as the virtualised grid reads them. The cells stay
// in the API's flat arrays (no object per cell: 250,000 of them cost seconds and garbage collection pauses).
import type { CellState, Matrix } from './types.js';

export interface MatrixFilter { mod?: string; env?: string; app?: string; host?: string; state?: CellState | '' }

export interface MatrixView {
  /** index: the unit's column in the API's answer. */
  units: Array<{ unit: string; index: number }>;
  /** h: the host's index in the API's answer. */
  rows: Array<{ h: number; ip: string; hostname: string | null }>;
  /** The cell of a row and a visible column, or null when the host has nothing of that unit. */
  cell(row: number, col: number): { state: CellState; commit: string | null } | null;
}

export function viewMatrix(m: Matrix, f: MatrixFilter): MatrixView {
  const units = m.units.map((u, index) => ({ unit: u.unit, index })).filter(({ unit }) => {
    const [mod, env, app] = unit.split('/');
    return (!f.mod || mod === f.mod) && (!f.env || env === f.env) && (!f.app || app === f.app);
  });
  const nu = m.units.length;
  const want = f.state ? m.states.indexOf(f.state) : -1;
  const needle = f.host?.trim().toLowerCase();
  const rows: MatrixView['rows'] = [];
  m.ips.forEach((ip, h) => {
    const hostname = m.hostnames[h] ?? null;
    if (needle && !ip.includes(needle) && !(hostname ?? '').toLowerCase().includes(needle)) return;
    let any = false;
    let match = want < 0;
    for (const u of units) {
      const s = m.state[h * nu + u.index]!;
      if (s >= 0) any = true;
      if (s === want) match = true;
    }
    if (any && match) rows.push({ h, ip, hostname });
  });
  return {
    units, rows,
    cell(row, col) {
      const i = rows[row]!.h * nu + units[col]!.index;
      const s = m.state[i]!;
      if (s < 0) return null;
      const c = m.commit[i]!;
      return { state: m.states[s]!, commit: c >= 0 ? m.commits[c]! : null };
    },
  };
}

/** The distinct mod / env / app values of the units, for the filter menus. */
export function facets(m: Matrix): { mod: string[]; env: string[]; app: string[] } {
  const sets = [new Set<string>(), new Set<string>(), new Set<string>()];
  for (const u of m.units) u.unit.split('/').forEach((p, i) => sets[i]?.add(p));
  const [mod, env, app] = sets.map((s) => [...s!].sort());
  return { mod: mod!, env: env!, app: app! };
}
