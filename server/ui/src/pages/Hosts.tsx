// The inventory, and one host's page: its record, facts from agents, and the units it holds (from the matrix).
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api } from '../api.js';
import { Failure, Loading, Raw, Section, Status, Time } from '../components.js';
import { shortSha } from '../lib/format.js';
import { href } from '../lib/route.js';
import type { Host as HostData, Matrix, Paged } from '../lib/types.js';

export function Hosts() {
  const { t } = useTranslation();
  const q = useQuery({ queryKey: ['hosts', 'list'], queryFn: () => api<Paged<HostData>>('/hosts?limit=1000') });
  if (q.isPending) return <Loading />;
  if (q.isError) return <Failure error={q.error} />;
  return (
    <div>
      <h1>{t('hosts.title')} <span className="muted"><Raw>{q.data.total}</Raw></span></h1>
      <table data-testid="hosts">
        <thead><tr><th>{t('table.ip')}</th><th>{t('table.hostname')}</th><th>{t('table.env')}</th><th>{t('table.apps')}</th><th>{t('table.source')}</th><th>{t('table.lastSeen')}</th></tr></thead>
        <tbody>{q.data.items.map((h) => (
          <tr key={h.id}><td><a href={href({ page: 'host', id: h.id })}><Raw>{h.ip}</Raw></a></td><td><Raw>{h.hostname ?? ''}</Raw></td><td><Raw>{h.env}</Raw></td>
            <td><Raw>{h.apps.join(', ')}</Raw></td><td><Raw>{h.source}</Raw></td><td><Time iso={h.factsAt ?? h.metricsAt} /></td></tr>
        ))}</tbody>
      </table>
    </div>
  );
}

export function Host({ id }: { id: number }) {
  const { t } = useTranslation();
  const q = useQuery({ queryKey: ['hosts', id], queryFn: () => api<HostData>(`/hosts/${id}`) });
  const m = useQuery({ queryKey: ['matrix'], queryFn: () => api<Matrix>('/matrix') });
  const pushes = useQuery({ queryKey: ['hosts', id, 'pushes'], queryFn: () => api<{ items: Array<{ deploymentId: number; unit: string; status: string; reason: string | null; filesChanged: number | null; startedAt: string | null; dryRun: boolean; commit: string | null }> }>(`/hosts/${id}/pushes`) });
  if (q.isPending) return <Loading />;
  if (q.isError) return <Failure error={q.error} />;
  const h = q.data;
  const hi = m.data?.ips.indexOf(h.ip) ?? -1;
  // The host's row of the columnar matrix: [unit index, commit index, state] of each unit it has.
  const nu = m.data?.units.length ?? 0;
  const cells = hi < 0 ? [] : m.data!.units.map((_, u) => [u, m.data!.commit[hi * nu + u]!, m.data!.state[hi * nu + u]!] as const).filter(([, , s]) => s >= 0);
  return (
    <div>
      <h1><Raw>{h.ip}</Raw> <span className="muted"><Raw>{h.hostname ?? ''}</Raw></span></h1>
      <dl className="facts">
        <dt>{t('table.env')}</dt><dd><Raw>{h.env}</Raw></dd>
        <dt>{t('table.apps')}</dt><dd><Raw>{h.apps.join(', ')}</Raw></dd>
        <dt>{t('table.source')}</dt><dd><Raw>{h.source}</Raw></dd>
        <dt>{t('table.lastSeen')}</dt><dd><Time iso={h.factsAt ?? h.metricsAt} /></dd>
        <dt>{t('hosts.rsync')}</dt><dd><Raw>{h.rsync?.versionLine ?? '—'}</Raw></dd>
        <dt>{t('hosts.labels')}</dt><dd><Raw>{Object.entries(h.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ') || '—'}</Raw></dd>
      </dl>
      <Section title={t('hosts.units')}>
        <table data-testid="host-units"><thead><tr><th>{t('table.unit')}</th><th>{t('table.commit')}</th><th>{t('table.status')}</th></tr></thead>
          <tbody>{cells.map(([u, c, si]) => {
            const s = m.data!.states[si]!;
            const unit = m.data!.units[u]!.unit;
            return <tr key={unit}><td><a href={href({ page: 'unit', unit })}><Raw>{unit}</Raw></a></td><td><Raw>{shortSha(c >= 0 ? m.data!.commits[c] : null)}</Raw></td><td><Status s={s} /></td></tr>;
          })}</tbody></table>
      </Section>
      <Section title={t('hosts.deployments')}>
        {pushes.isPending ? <Loading /> : pushes.isError ? <Failure error={pushes.error} /> : (
          <table data-testid="host-pushes"><thead><tr><th>{t('table.id')}</th><th>{t('table.unit')}</th><th>{t('table.status')}</th><th>{t('table.commit')}</th><th>{t('deployment.files')}</th><th>{t('deployment.reason')}</th><th>{t('table.started')}</th></tr></thead>
            <tbody>{pushes.data.items.map((p) => (
              <tr key={`${p.deploymentId}-${p.unit}`}><td><a href={href({ page: 'deployment', id: p.deploymentId })}><Raw>#{p.deploymentId}</Raw></a></td><td><Raw>{p.unit}</Raw></td>
                <td><Status s={p.status} />{p.dryRun && <> <Status s="dry" /></>}</td><td><Raw>{shortSha(p.commit)}</Raw></td><td><Raw>{p.filesChanged ?? '—'}</Raw></td><td><Raw>{p.reason ?? ''}</Raw></td><td><Time iso={p.startedAt} /></td></tr>
            ))}</tbody></table>
        )}
      </Section>
      {h.facts && <Section title={t('hosts.facts')}><pre data-raw="">{JSON.stringify(h.facts, null, 2)}</pre></Section>}
    </div>
  );
}
