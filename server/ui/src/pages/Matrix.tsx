// Units × hosts: which commit each host holds for each unit, coloured by state; filters; rows virtualised (only the
// visible ones are in the DOM, so 5,000 hosts scroll like 50); a cell opens that host's history of the unit.
import { useQuery } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api.js';
import { Failure, Loading, Raw, Status, Time } from '../components.js';
import { shortSha } from '../lib/format.js';
import { facets, viewMatrix, type MatrixFilter, type MatrixView } from '../lib/matrix.js';
import { href } from '../lib/route.js';
import type { CellState, DeploymentView, Matrix as MatrixData, Paged } from '../lib/types.js';

const ROW = 28;
const COL = 112;
const HOST_COL = 220;
const STATES: CellState[] = ['in_sync', 'behind', 'drifted', 'failed', 'unreachable'];

export function Matrix() {
  const { t } = useTranslation();
  const q = useQuery({ queryKey: ['matrix'], queryFn: () => api<MatrixData>('/matrix') });
  const [f, setF] = useState<MatrixFilter>({});
  const [pick, setPick] = useState<{ unit: string; ip: string } | null>(null);
  const view = useMemo(() => (q.data ? viewMatrix(q.data, f) : null), [q.data, f]);
  const fac = useMemo(() => (q.data ? facets(q.data) : null), [q.data]);
  const scroller = useRef<HTMLDivElement>(null);
  // Fixed sizes (never measured), and no flushSync on scroll: React renders the new rows in its own batch.
  const rows = useVirtualizer({ count: view?.rows.length ?? 0, getScrollElement: () => scroller.current, estimateSize: () => ROW, overscan: 6, useFlushSync: false });
  // Columns too: a row renders only the units in view (50 units are ~5,500 px wide).
  const columns = useVirtualizer({ horizontal: true, count: view?.units.length ?? 0, getScrollElement: () => scroller.current, estimateSize: () => COL, overscan: 2, useFlushSync: false });
  const labels = useMemo(() => Object.fromEntries(STATES.map((st) => [st, t(`status.${st}`)])) as Record<CellState, string>, [t]);
  if (q.isPending) return <Loading />;
  if (q.isError) return <Failure error={q.error} />;
  const select = (k: 'mod' | 'env' | 'app', label: string) => (
    <label>{label}{' '}
      <select value={f[k] ?? ''} onChange={(e) => setF({ ...f, [k]: e.target.value || undefined })} data-testid={`filter-${k}`}>
        <option value="">{t('matrix.all')}</option>
        {fac![k].map((v) => <option key={v} value={v} data-raw="">{v}</option>)}
      </select>
    </label>
  );
  const visible = columns.getVirtualItems();
  const width = HOST_COL + columns.getTotalSize();
  return (
    <div>
      <h1>{t('matrix.title')}</h1>
      <div className="filters">
        {select('mod', t('matrix.filterMod'))}{select('env', t('matrix.filterEnv'))}{select('app', t('matrix.filterApp'))}
        <label>{t('matrix.filterHost')} <input value={f.host ?? ''} onChange={(e) => setF({ ...f, host: e.target.value })} data-testid="filter-host" /></label>
        <label>{t('matrix.filterState')}{' '}
          <select value={f.state ?? ''} onChange={(e) => setF({ ...f, state: e.target.value as CellState | '' })} data-testid="filter-state">
            <option value="">{t('matrix.all')}</option>
            {STATES.map((s) => <option key={s} value={s}>{t(`status.${s}`)}</option>)}
          </select>
        </label>
        <span className="muted">{t('matrix.summary', { hosts: view!.rows.length, units: view!.units.length })}</span>
      </div>
      <div className="legend">{STATES.map((s) => <span key={s} className={`cell c-${s}`}>{t(`status.${s}`)}</span>)}</div>
      {view!.rows.length === 0 ? <p className="muted">{t('matrix.empty')}</p> : (
        <div className="matrix" ref={scroller} data-testid="matrix">
          <div className="mrow mhead" style={{ width }}>
            <div className="mhost">{t('table.hosts')}</div>
            {visible.map((vc) => {
              const u = view!.units[vc.index]!;
              return <div key={u.unit} className="mcell" style={{ left: HOST_COL + vc.start, width: vc.size }}><a href={href({ page: 'unit', unit: u.unit })} title={u.unit}><Raw>{u.unit}</Raw></a></div>;
            })}
          </div>
          <div style={{ height: rows.getTotalSize(), width, position: 'relative' }}>
            {rows.getVirtualItems().map((vr) => (
              <MatrixRow key={vr.index} view={view!} row={vr.index} top={vr.start} width={width} first={visible[0]?.index ?? 0} cols={visible} labels={labels} onPick={setPick} />
            ))}
          </div>
        </div>
      )}
      {pick && <CellHistory unit={pick.unit} ip={pick.ip} onClose={() => setPick(null)} />}
    </div>
  );
}

/** One host's row: re-rendered only when it scrolls in or its data changes (scrolling must stay under a frame). */
const MatrixRow = memo(function MatrixRow({ view, row, top, width, cols, labels, onPick }: {
  view: MatrixView; row: number; top: number; width: number; first: number; cols: Array<{ index: number; start: number; size: number }>;
  labels: Record<CellState, string>; onPick: (p: { unit: string; ip: string }) => void;
}) {
  const r = view.rows[row]!;
  return (
    <div className="mrow" data-host={r.ip} style={{ width, height: ROW, transform: `translateY(${top}px)` }}>
      <div className="mhost" data-raw="">{r.ip}{r.hostname && <span className="muted"> {r.hostname}</span>}</div>
      {cols.map(({ index: i, start, size }) => {
        const c = view.cell(row, i);
        const unit = view.units[i]!.unit;
        return c ? (
          <button key={i} className={`cell c-${c.state}`} style={{ left: HOST_COL + start, width: size - 4 }} data-state={c.state} data-unit={unit} title={labels[c.state]} data-raw=""
            onClick={() => onPick({ unit, ip: r.ip })}>{shortSha(c.commit)}</button>
        ) : null;
      })}
    </div>
  );
}, (a, b) => a.view === b.view && a.row === b.row && a.top === b.top && a.width === b.width && a.first === b.first && a.cols.length === b.cols.length && a.labels === b.labels);

/** The host's pushes of the unit: the unit's last deployments, each read for that host's row. */
function CellHistory({ unit, ip, onClose }: { unit: string; ip: string; onClose: () => void }) {
  const { t } = useTranslation();
  const q = useQuery({
    queryKey: ['unit', unit, 'host-history', ip],
    queryFn: async () => {
      const list = await api<Paged<DeploymentView>>(`/deployments?unit=${encodeURIComponent(unit)}&limit=10`);
      const full = await Promise.all(list.items.map((d) => api<DeploymentView>(`/deployments/${d.id}`)));
      return full.flatMap((d) => (d.hosts ?? []).filter((h) => h.unit === unit && h.ip === ip).map((h) => ({ d, h })));
    },
  });
  return (
    <div className="modal" role="dialog" aria-modal="true">
      <div className="modal-body wide">
        <h3>{t('matrix.history', { unit, ip })}</h3>
        {q.isPending ? <Loading /> : q.isError ? <Failure error={q.error} /> : (
          <table data-testid="cell-history">
            <thead><tr><th>{t('table.id')}</th><th>{t('table.status')}</th><th>{t('table.commit')}</th><th>{t('deployment.reason')}</th><th>{t('table.started')}</th></tr></thead>
            <tbody>{q.data.map(({ d, h }) => (
              <tr key={d.id}><td><a href={href({ page: 'deployment', id: d.id })} onClick={onClose}><Raw>#{d.id}</Raw></a></td><td><Status s={h.status} />{d.request.dryRun && <> <Status s="dry" /></>}</td>
                <td><Raw>{shortSha(d.after)}</Raw></td><td><Raw>{h.reason ?? ''}</Raw></td><td><Time iso={h.startedAt} /></td></tr>
            ))}</tbody>
          </table>
        )}
        <button onClick={onClose}>{t('matrix.close')}</button>
      </div>
    </div>
  );
}
