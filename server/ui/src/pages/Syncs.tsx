// Host sync (inventory sources) and ES sync (metrics tasks): lists, run history with counts, run now, enable/disable,
// the details of a run.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api.js';
import { Duration, Failure, Loading, Raw, Section, Status, Time } from '../components.js';
import type { Paged } from '../lib/types.js';

interface SourceView { name: string; type: string; enabled: boolean; disabledBy: 'config' | 'api' | null; schedule: string | null; nextRunAt: string | null; watching: boolean; running: number | null; hosts: number }
interface HsRun { id: number; source: string; type: string; trigger: string; status: string; startedAt: string; finishedAt: string | null; durationMs: number | null; error: string | null; toAdd: number; toModify: number; toDelete: number; added: number; modified: number; deleted: number; listed: number | null; details?: Array<{ uid: string; error: string }> }

export function HostSync() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const sources = useQuery({ queryKey: ['hostSync', 'sources'], queryFn: () => api<{ items: SourceView[] }>('/host-sync/sources') });
  const runs = useQuery({ queryKey: ['hostSync', 'runs'], queryFn: () => api<Paged<HsRun>>('/host-sync/runs?limit=50') });
  const [open, setOpen] = useState<number | null>(null);
  const detail = useQuery({ queryKey: ['hostSync', 'run', open], enabled: open !== null, queryFn: () => api<HsRun>(`/host-sync/runs/${open}`) });
  const run = useMutation({ mutationFn: (name: string) => api(`/host-sync/sources/${encodeURIComponent(name)}/run?wait=false`, { method: 'POST' }), onSuccess: () => qc.invalidateQueries({ queryKey: ['hostSync'] }) });
  const toggle = useMutation({ mutationFn: (x: { name: string; enabled: boolean }) => api(`/host-sync/sources/${encodeURIComponent(x.name)}/enabled`, { method: 'PUT', body: { enabled: x.enabled } }), onSuccess: () => qc.invalidateQueries({ queryKey: ['hostSync'] }) });
  return (
    <div>
      <h1>{t('hostSync.title')}</h1>
      <Section title={t('hostSync.sources')}>
        {sources.isPending ? <Loading /> : sources.isError ? <Failure error={sources.error} /> : sources.data.items.length === 0 ? <p className="muted">{t('hostSync.noSources')}</p> : (
          <table><thead><tr><th>{t('table.name')}</th><th>{t('hostSync.type')}</th><th>{t('table.enabled')}</th><th>{t('table.schedule')}</th><th>{t('hostSync.next')}</th><th>{t('table.hosts')}</th><th>{t('table.actions')}</th></tr></thead>
            <tbody>{sources.data.items.map((s) => (
              <tr key={s.name} data-source={s.name} data-enabled={String(s.enabled)}><td><Raw>{s.name}</Raw></td><td><Raw>{s.type}</Raw></td>
                <td>{s.enabled ? t('common.yes') : s.disabledBy === 'config' ? t('hostSync.offInConfig') : t('common.no')}</td><td><Raw>{s.schedule ?? '—'}</Raw></td>
                <td><Time iso={s.nextRunAt} /></td><td><Raw>{s.hosts}</Raw></td>
                <td className="row">
                  {/* A source off in the configuration cannot be switched on here (the server says 409). */}
                  {s.disabledBy !== 'config' && <button data-testid="source-toggle" onClick={() => toggle.mutate({ name: s.name, enabled: !s.enabled })} disabled={toggle.isPending}>{s.enabled ? t('hostSync.disable') : t('hostSync.enable')}</button>}
                  {s.running ? <Status s="running" /> : s.disabledBy !== 'config' && <button data-testid="source-run" onClick={() => run.mutate(s.name)} disabled={run.isPending}>{t('hostSync.runNow')}</button>}
                </td></tr>
            ))}</tbody></table>
        )}
        {[toggle, run].map((m, i) => m.isError && <Failure key={i} error={m.error} />)}
      </Section>
      <Section title={t('hostSync.runs')}>
        {runs.isPending ? <Loading /> : runs.isError ? <Failure error={runs.error} /> : (
          <table data-testid="hs-runs"><thead><tr><th>{t('table.id')}</th><th>{t('table.source')}</th><th>{t('table.status')}</th><th>{t('hostSync.toAdd')}</th><th>{t('hostSync.toMod')}</th><th>{t('hostSync.toDel')}</th><th>{t('table.started')}</th><th>{t('table.duration')}</th></tr></thead>
            <tbody>{runs.data.items.map((r) => (
              <tr key={r.id}><td><button className="link" onClick={() => setOpen(r.id)}><Raw>#{r.id}</Raw></button></td><td><Raw>{r.source}</Raw></td><td><Status s={r.status} /></td>
                <td><Raw>{r.toAdd}</Raw></td><td><Raw>{r.toModify}</Raw></td><td><Raw>{r.toDelete}</Raw></td><td><Time iso={r.startedAt} /></td><td><Duration ms={r.durationMs} /></td></tr>
            ))}</tbody></table>
        )}
      </Section>
      {open !== null && detail.data && (
        <Section title={t('hostSync.details', { id: open })} actions={<button onClick={() => setOpen(null)}>{t('matrix.close')}</button>}>
          {detail.data.error && <p className="error"><Raw>{detail.data.error}</Raw></p>}
          <h4>{t('hostSync.errors')}</h4>
          <ul>{(detail.data.details ?? []).map((d) => <li key={d.uid}><Raw>{d.uid}: {d.error}</Raw></li>)}</ul>
        </Section>
      )}
    </div>
  );
}

interface EsTask { id: number; name: string; cron: string; enabled: boolean; indexPattern: string }
interface EsRun { id: number; taskId: number; taskName: string; trigger: string; status: string; startedAt: string; durationMs: number | null; totalHosts: number; successCount: number; failedCount: number; notInPoolCount: number; noDataCount: number; error?: string | null }

export function EsSync() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const tasks = useQuery({ queryKey: ['esSync', 'tasks'], queryFn: () => api<Paged<EsTask>>('/es-sync/tasks?limit=200') });
  const runs = useQuery({ queryKey: ['esSync', 'runs'], queryFn: () => api<Paged<EsRun>>('/es-sync/executions?limit=50') });
  const [open, setOpen] = useState<number | null>(null);
  const detail = useQuery({ queryKey: ['esSync', 'run', open], enabled: open !== null, queryFn: () => api<{ execution: EsRun; hosts?: { items: Array<{ ip: string; status: string; error: string | null }> } }>(`/es-sync/executions/${open}?limit=200`) });
  const toggle = useMutation({ mutationFn: (x: { id: number; enabled: boolean }) => api(`/es-sync/tasks/${x.id}/enabled`, { method: 'PUT', body: { enabled: x.enabled } }), onSuccess: () => qc.invalidateQueries({ queryKey: ['esSync'] }) });
  const run = useMutation({ mutationFn: (id: number) => api(`/es-sync/tasks/${id}/execute?wait=false`, { method: 'POST', body: {} }), onSuccess: () => qc.invalidateQueries({ queryKey: ['esSync'] }) });
  return (
    <div>
      <h1>{t('esSync.title')}</h1>
      <Section title={t('esSync.tasks')}>
        {tasks.isPending ? <Loading /> : tasks.isError ? <Failure error={tasks.error} /> : tasks.data.items.length === 0 ? <p className="muted">{t('esSync.noTasks')}</p> : (
          <table><thead><tr><th>{t('table.id')}</th><th>{t('table.name')}</th><th>{t('table.schedule')}</th><th>{t('table.enabled')}</th><th>{t('table.actions')}</th></tr></thead>
            <tbody>{tasks.data.items.map((x) => (
              <tr key={x.id}><td><Raw>{x.id}</Raw></td><td><Raw>{x.name}</Raw></td><td><Raw>{x.cron}</Raw></td><td>{x.enabled ? t('common.yes') : t('common.no')}</td>
                <td className="row"><button onClick={() => toggle.mutate({ id: x.id, enabled: !x.enabled })}>{x.enabled ? t('esSync.disable') : t('esSync.enable')}</button>
                  <button onClick={() => run.mutate(x.id)}>{t('esSync.runNow')}</button></td></tr>
            ))}</tbody></table>
        )}
        {[toggle, run].map((m, i) => m.isError && <Failure key={i} error={m.error} />)}
      </Section>
      <Section title={t('esSync.runs')}>
        {runs.isPending ? <Loading /> : runs.isError ? <Failure error={runs.error} /> : (
          <table><thead><tr><th>{t('table.id')}</th><th>{t('table.name')}</th><th>{t('table.status')}</th><th>{t('esSync.success')}</th><th>{t('esSync.failed')}</th><th>{t('esSync.notInPool')}</th><th>{t('esSync.noData')}</th><th>{t('table.started')}</th><th>{t('table.duration')}</th></tr></thead>
            <tbody>{runs.data.items.map((r) => (
              <tr key={r.id}><td><button className="link" onClick={() => setOpen(r.id)}><Raw>#{r.id}</Raw></button></td><td><Raw>{r.taskName}</Raw></td><td><Status s={r.status} /></td>
                <td><Raw>{r.successCount}</Raw></td><td><Raw>{r.failedCount}</Raw></td><td><Raw>{r.notInPoolCount}</Raw></td><td><Raw>{r.noDataCount}</Raw></td><td><Time iso={r.startedAt} /></td><td><Duration ms={r.durationMs} /></td></tr>
            ))}</tbody></table>
        )}
      </Section>
      {open !== null && detail.data && (
        <Section title={t('esSync.details', { id: open })} actions={<button onClick={() => setOpen(null)}>{t('matrix.close')}</button>}>
          <ul>{(detail.data.hosts?.items ?? []).map((h) => <li key={h.ip}><Raw>{h.ip}</Raw> <Status s={h.status} /> <Raw>{h.error ?? ''}</Raw></li>)}</ul>
        </Section>
      )}
    </div>
  );
}
