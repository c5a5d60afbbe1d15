// Units × hosts: which commit each host holds for each unit, coloured by state; filters; rows virtualised (only the
// visible ones are in the DOM, so 5,000 hosts scroll like 50); a cell opens that host's history of the unit.
import { useQuery } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api.js';
import { Failure, Loading, Raw, Status, Time } from '../components.js';
import { shortSha } from '../lib/format.js';
import { facets, viewMatrix, type MatrixFilter } from '../lib/matrix.js';
import { href } from '../lib/route.js';
import type { CellState, DeploymentView, Matrix as MatrixData, Paged } from '../lib/types.js';

const ROW = 28;
const STATES: CellState[] = ['in_sync', 'behind', 'drifted', 'failed', 'unreachable'];

export function Matrix() {
  const { t } = useTranslation();
  const q = useQuery({ queryKey: ['matrix'], queryFn: () => api<MatrixData>('/matrix') });
  const [f, setF] = useState<MatrixFilter>({});
  const [pick, setPick] = useState<{ unit: string; ip: string } | null>(null);
  const view = useMemo(() => (q.data ? viewMatrix(q.data, f) : null), [q.data, f]);
  const fac = useMemo(() => (q.data ? facets(q.data) : null), [q.data]);
  const scroller = useRef<HTMLDivElement>(null);
  const rows = useVirtualizer({ count: view?.rows.length ?? 0, getScrollElement: () => scroller.current, estimateSize: () => ROW, overscan: 20 });
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
  const cols = `220px repeat(${view!.units.length}, minmax(110px, 1fr))`;
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
          <div className="mrow mhead" style={{ gridTemplateColumns: cols }}>
            <div>{t('table.hosts')}</div>
            {view!.units.map((u) => <div key={u.unit}><a href={href({ page: 'unit', unit: u.unit })}><Raw>{u.unit}</Raw></a></div>)}
          </div>
          <div style={{ height: rows.getTotalSize(), position: 'relative' }}>
            {rows.getVirtualItems().map((vr) => {
              const r = view!.rows[vr.index]!;
              return (
                <div key={r.ip} className="mrow" data-host={r.ip} style={{ gridTemplateColumns: cols, position: 'absolute', top: 0, left: 0, right: 0, height: ROW, transform: `translateY(${vr.start}px)` }}>
                  <div><Raw>{r.ip}</Raw>{r.hostname && <span className="muted"> <Raw>{r.hostname}</Raw></span>}</div>
                  {r.cells.map((c, i) => c ? (
                    <button key={i} className={`cell c-${c.state}`} data-state={c.state} data-unit={view!.units[i]!.unit} title={t(`status.${c.state}`)}
                      onClick={() => setPick({ unit: view!.units[i]!.unit, ip: r.ip })}><Raw>{shortSha(c.commit)}</Raw></button>
                  ) : <div key={i} />)}
                </div>
              );
            })}
          </div>
        </div>
      )}
      {pick && <CellHistory unit={pick.unit} ip={pick.ip} onClose={() => setPick(null)} />}
    </div>
  );
}

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
