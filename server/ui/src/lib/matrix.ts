// PURE: the matrix page's rows: hosts × units after the filters, as the virtualised grid reads them.
import type { CellState, Matrix } from './types.js';

export interface MatrixFilter { mod?: string; env?: string; app?: string; host?: string; state?: CellState | '' }

export interface MatrixView {
  units: Array<{ unit: string; index: number }>;
  rows: Array<{ ip: string; hostname: string | null; cells: Array<{ state: CellState; commit: string | null } | null> }>;
}

export function viewMatrix(m: Matrix, f: MatrixFilter): MatrixView {
  const units = m.units.map((u, index) => ({ unit: u.unit, index })).filter(({ unit }) => {
    const [mod, env, app] = unit.split('/');
    return (!f.mod || mod === f.mod) && (!f.env || env === f.env) && (!f.app || app === f.app);
  });
  const col = new Map(units.map((u, i) => [u.index, i]));
  const byHost = new Map<number, Array<{ state: CellState; commit: string | null } | null>>();
  for (const [u, h, c, state] of m.cells) {
    const i = col.get(u);
    if (i === undefined) continue;
    let row = byHost.get(h);
    if (!row) byHost.set(h, (row = new Array(units.length).fill(null)));
    row[i] = { state, commit: c >= 0 ? m.commits[c]! : null };
  }
  const needle = f.host?.trim().toLowerCase();
  const rows: MatrixView['rows'] = [];
  m.hosts.forEach((h, i) => {
    const cells = byHost.get(i);
    if (!cells) return;
    if (needle && !h.ip.includes(needle) && !(h.hostname ?? '').toLowerCase().includes(needle)) return;
    if (f.state && !cells.some((c) => c?.state === f.state)) return;
    rows.push({ ip: h.ip, hostname: h.hostname, cells });
  });
  return { units, rows };
}

/** The distinct mod / env / app values of the units, for the filter menus. */
export function facets(m: Matrix): { mod: string[]; env: string[]; app: string[] } {
  const sets = [new Set<string>(), new Set<string>(), new Set<string>()];
  for (const u of m.units) u.unit.split('/').forEach((p, i) => sets[i]?.add(p));
  const [mod, env, app] = sets.map((s) => [...s!].sort());
  return { mod: mod!, env: env!, app: app! };
}
