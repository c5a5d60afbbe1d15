// Overview: running deployments with live progress, the last 20, failing units, drift, inventory and sync health.
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api } from '../api.js';
import { ConfirmButton, Duration, Failure, Loading, Raw, Section, Status, Time } from '../components.js';
import { formatDateTime, shortSha } from '../lib/format.js';
import { progressOf } from '../lib/progress.js';
import { href } from '../lib/route.js';
import type { DeploymentView, Host, Paged, UnitListItem } from '../lib/types.js';

const elapsed = (d: DeploymentView) => (d.startedAt && d.finishedAt ? Date.parse(d.finishedAt) - Date.parse(d.startedAt) : null);

interface WindowHeld { unit: string; commit: string | null; hosts: string[] | null; deploymentIds: number[]; windows: string[]; until: string | null }

export function Overview() {
  const { t, i18n } = useTranslation();
  const recent = useQuery({ queryKey: ['deployments', 'recent'], queryFn: () => api<Paged<DeploymentView>>('/deployments?limit=20') });
  const active = (recent.data?.items ?? []).filter((d) => d.status === 'running' || d.status === 'queued');
  const details = useQueries({ queries: active.map((d) => ({ queryKey: ['deployment', d.id], queryFn: () => api<DeploymentView>(`/deployments/${d.id}`) })) });
  const units = useQuery({ queryKey: ['units'], queryFn: () => api<{ head: string | null; items: UnitListItem[] }>('/units') });
  const hosts = useQuery({ queryKey: ['hosts', 'count'], queryFn: () => api<Paged<Host>>('/hosts?limit=1') });
  const hostSync = useQuery({ queryKey: ['hostSync', 'sources'], queryFn: () => api<{ items: Array<{ name: string; lastRun: { status: string; startedAt: string } | null }> }>('/host-sync/sources'), retry: false });
  const esSync = useQuery({ queryKey: ['esSync', 'runs', 'last'], queryFn: () => api<Paged<{ id: number; taskName: string; status: string; startedAt: string }>>('/es-sync/executions?limit=3'), retry: false });

  const held = useQuery({ queryKey: ['units', 'held'], queryFn: () => api<{ items: Array<{ unit: string; deploymentId: number; commit: string | null; kind: 'held' | 'rollout_stopped'; reason: string | null }> }>('/held-units') });
  // Work held by sync windows (GET /windows: each held item with the windows holding it and when it may go).
  const windows = useQuery({ queryKey: ['windows'], queryFn: () => api<{ held: WindowHeld[] }>('/windows'), retry: false });
  const qc = useQueryClient();
  const confirm = useMutation({ mutationFn: (id: number) => api<{ queued: number[] }>(`/deployments/${id}/confirm`, { method: 'POST', body: {} }), onSuccess: () => qc.invalidateQueries({ queryKey: ['units'] }) });
  const failing = (units.data?.items ?? []).filter((u) => u.failing);
  const drift = (units.data?.items ?? []).reduce((a, u) => ({
    drifted: a.drifted + (u.drift?.drifted ?? 0), unreachable: a.unreachable + (u.drift?.unreachable ?? 0),
    hosts: a.hosts + (u.drift ? u.drift.in_sync + u.drift.drifted + u.drift.unreachable + u.drift.error : 0),
  }), { drifted: 0, unreachable: 0, hosts: 0 });

  return (
    <div className="grid">
      <Section title={t('overview.running')}>
        {recent.isPending ? <Loading /> : active.length === 0 ? <p className="muted" data-testid="none-running">{t('overview.noneRunning')}</p> : (
          <ul className="running" data-testid="running">
            {active.map((d, i) => {
              const full = details[i]?.data;
              const p = progressOf(full?.hosts ?? []);
              return (
                <li key={d.id} data-deployment={d.id}>
                  <a href={href({ page: 'deployment', id: d.id })}><Raw>#{d.id}</Raw></a> <Status s={d.status} />{' '}
                  <Raw>{d.units.join(', ')}</Raw>
                  <div className="progress" aria-label={t('deployment.progress')}><div style={{ width: `${p.total ? (100 * p.done) / p.total : 0}%` }} /></div>
                  <span>{t('overview.progress', { done: p.done, total: p.total })}</span>
                  {p.failed > 0 && <span className="error"> · {t('overview.failures', { count: p.failed })}</span>}
                </li>
              );
            })}
          </ul>
        )}
      </Section>

      <Section title={t('overview.recent')} wide>
        {recent.isPending ? <Loading /> : recent.isError ? <Failure error={recent.error} /> : (
          <table data-testid="recent">
            <thead><tr><th>{t('table.id')}</th><th>{t('table.status')}</th><th>{t('table.trigger')}</th><th>{t('table.units')}</th><th>{t('table.created')}</th><th>{t('table.duration')}</th></tr></thead>
            <tbody>
              {recent.data.items.map((d) => (
                <tr key={d.id} data-deployment={d.id}>
                  <td><a href={href({ page: 'deployment', id: d.id })}><Raw>#{d.id}</Raw></a></td>
                  <td><Status s={d.status} />{d.request.dryRun && <> <Status s="dry" /></>}</td>
                  <td><Raw>{d.trigger}</Raw></td>
                  <td><Raw>{d.units.join(', ')}</Raw></td>
                  <td><Time iso={d.createdAt} /></td>
                  <td><Duration ms={elapsed(d)} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      <Section title={t('overview.failing')}>
        {(held.data?.items ?? []).length > 0 && (
          <ul data-testid="held">
            {held.data!.items.map((h) => (
              <li key={h.unit}>
                <a href={href({ page: 'unit', unit: h.unit })}><Raw>{h.unit}</Raw></a> <Status s="held" /> {h.kind === 'held' ? t('overview.held') : t('overview.rolloutStopped')}{' '}
                <a href={href({ page: 'deployment', id: h.deploymentId })}><Raw>#{h.deploymentId}</Raw></a>
                {h.reason && <div className="reason"><Raw>{h.reason}</Raw></div>}
                {h.kind === 'held' && <ConfirmButton label={t('overview.confirmHeld')} question={t('overview.confirmHeldQuestion', { unit: h.unit, commit: shortSha(h.commit) })} onConfirm={() => confirm.mutate(h.deploymentId)} />}
              </li>
            ))}
          </ul>
        )}
        {(windows.data?.held ?? []).length > 0 && (
          <ul data-testid="window-held">
            {windows.data!.held.map((h) => (
              <li key={`${h.unit} ${h.commit ?? ''} ${(h.hosts ?? []).join(',')}`} data-unit={h.unit}>
                <a href={href({ page: 'unit', unit: h.unit })}><Raw>{h.unit}</Raw></a> <Status s="held" />{' '}
                {h.windows.length ? <>{t('overview.windowHeld')} <Raw>{h.windows.join(', ')}</Raw></> : t('overview.windowDue')}{' '}
                {h.until && <span data-testid="window-opens">{t('overview.windowOpens')} <Time iso={h.until} /></span>}{' '}
                {h.hosts && <span className="muted">{t('overview.windowHosts', { count: h.hosts.length })}</span>}{' '}
                {h.deploymentIds.map((id) => <a key={id} href={href({ page: 'deployment', id })}><Raw>#{id}</Raw></a>)}
              </li>
            ))}
          </ul>
        )}
        {confirm.isError && <Failure error={confirm.error} />}
        {units.isPending ? <Loading /> : units.isError ? <Failure error={units.error} /> : failing.length === 0 ? ((held.data?.items ?? []).length || (windows.data?.held ?? []).length ? null : <p className="muted">{t('overview.noneFailing')}</p>) : (
          <ul data-testid="failing">
            {failing.map((u) => (
              <li key={u.unit}>
                <a href={href({ page: 'unit', unit: u.unit })}><Raw>{u.unit}</Raw></a> <Status s="failed" />{' '}
                {t('overview.failingSince', { since: formatDateTime(u.failing!.since, i18n.language), count: u.failing!.failures })}
                {u.failing!.lastReason && <div className="reason"><Raw>{u.failing!.lastReason}</Raw></div>}
              </li>
            ))}
          </ul>
        )}
      </Section>

      <Section title={t('overview.drift')}>
        {drift.hosts === 0 ? <p className="muted">{t('overview.noDrift')}</p> : <p>{t('overview.driftSummary', drift)}</p>}
      </Section>

      <Section title={t('overview.inventory')}>
        <p>{t('overview.hostsTotal')}: <strong><Raw>{hosts.data?.total ?? '…'}</Raw></strong></p>
        <h3>{t('nav.hostSync')}</h3>
        {hostSync.isError ? <Failure error={hostSync.error} /> : (hostSync.data?.items ?? []).length === 0 ? <p className="muted">{t('hostSync.noSources')}</p> : (
          <ul>{hostSync.data!.items.map((s) => <li key={s.name}><Raw>{s.name}</Raw> {s.lastRun ? <><Status s={s.lastRun.status} /> <Time iso={s.lastRun.startedAt} /></> : t('app.none')}</li>)}</ul>
        )}
        <h3>{t('nav.esSync')}</h3>
        {esSync.isError ? <Failure error={esSync.error} /> : (esSync.data?.items ?? []).length === 0 ? <p className="muted">{t('app.none')}</p> : (
          <ul>{esSync.data!.items.map((r) => <li key={r.id}><Raw>{r.taskName}</Raw> <Status s={r.status} /> <Time iso={r.startedAt} /></li>)}</ul>
        )}
      </Section>
    </div>
  );
}
