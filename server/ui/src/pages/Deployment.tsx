// One deployment: trigger, actor, commit range; per unit the host table (status, reason, files, attempts, duration,
// stderr tail) with each host's file list; retry of a unit's failed hosts.
import { useMutation, useQuery } from '@tanstack/react-query';
import { Fragment, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api.js';
import { ConfirmButton, Duration, Failure, Loading, Raw, Section, Sha, Status, Time } from '../components.js';
import { hostsByUnit, progressOf } from '../lib/progress.js';
import { href } from '../lib/route.js';
import type { DeploymentView, HostPushView } from '../lib/types.js';

export function Deployment({ id }: { id: number }) {
  const { t } = useTranslation();
  const q = useQuery({ queryKey: ['deployment', id], queryFn: () => api<DeploymentView>(`/deployments/${id}`) });
  const commits = useQuery({ queryKey: ['deployment', id, 'commits'], queryFn: () => api<{ commits: Array<{ sha: string; author: string; date: string; subject: string }> | null; truncated: boolean }>(`/deployments/${id}/commits`), staleTime: Infinity });
  const [queued, setQueued] = useState<number | null>(null);
  const retry = useMutation({
    mutationFn: (x: { unit: string; hosts: string[] }) => api<{ id: number }>('/deployments', { method: 'POST', body: { units: [x.unit], hosts: x.hosts } }),
    onSuccess: (r) => setQueued(r.id),
  });
  if (q.isPending) return <Loading />;
  if (q.isError) return <Failure error={q.error} />;
  const d = q.data;
  const byUnit = hostsByUnit(d.hosts ?? []);
  const p = progressOf(d.hosts ?? []);
  return (
    <div>
      <h1>{t('deployment.title', { id: d.id })} <Status s={d.status} />{d.request.dryRun && <> <Status s="dry" /></>}</h1>
      {d.request.dryRun && <p className="muted">{t('deployment.dryRun')}</p>}
      <dl className="facts">
        <dt>{t('deployment.trigger')}</dt><dd><Raw>{d.trigger}</Raw></dd>
        <dt>{t('deployment.actor')}</dt><dd><Raw>{d.actor ?? '—'}</Raw></dd>
        <dt>{t('deployment.range')}</dt><dd><Sha sha={d.before} /> → <Sha sha={d.after} /></dd>
        <dt>{t('deployment.created')}</dt><dd><Time iso={d.createdAt} /></dd>
        <dt>{t('deployment.started')}</dt><dd><Time iso={d.startedAt} /></dd>
        <dt>{t('deployment.finished')}</dt><dd><Time iso={d.finishedAt} /></dd>
        <dt>{t('deployment.progress')}</dt><dd data-testid="progress">{t('overview.progress', { done: p.done, total: p.total })}{p.failed > 0 && <> · {t('overview.failures', { count: p.failed })}</>}</dd>
        {d.error && <><dt>{t('deployment.error')}</dt><dd className="error"><Raw>{d.error}</Raw></dd></>}
      </dl>
      <Section title={t('deployment.commits')}>
        {commits.data?.commits === null ? <p className="muted">{t('deployment.commitsMissing')}</p> : (
          <ul className="commits" data-testid="commits">
            {(commits.data?.commits ?? []).map((c) => <li key={c.sha}><Sha sha={c.sha} /> <Raw>{c.subject}</Raw> <span className="muted"><Raw>{c.author}</Raw> · <Time iso={c.date} /></span></li>)}
          </ul>
        )}
        {commits.data?.truncated && <p className="muted">{t('deployment.commitsTruncated')}</p>}
      </Section>
      {queued && <p className="note" role="status">{t('deployment.retried', { id: '' })}<a href={href({ page: "deployment", id: queued })}><Raw>{queued}</Raw></a></p>}
      {retry.isError && <Failure error={retry.error} />}
      {(d.unitResults ?? []).map((u) => {
        const hosts = byUnit.get(u.unit) ?? [];
        const failed = hosts.filter((h) => h.status === 'failed').map((h) => h.ip);
        return (
          <Section key={u.unit} title={<><a href={href({ page: 'unit', unit: u.unit })}><Raw>{u.unit}</Raw></a> <Status s={u.status} /> <Sha sha={u.commit} /></>}
            actions={failed.length > 0 && !d.request.dryRun ? (
              <ConfirmButton testId={`retry-${u.unit}`} label={t('deployment.retryFailed')} question={t('deployment.retryConfirm', { unit: u.unit, count: failed.length })}
                onConfirm={() => retry.mutate({ unit: u.unit, hosts: failed })} disabled={retry.isPending} />
            ) : undefined}>
            {u.reason && <p className="reason"><Raw>{u.reason}</Raw></p>}
            <HostTable hosts={hosts} />
          </Section>
        );
      })}
    </div>
  );
}

function HostTable({ hosts }: { hosts: HostPushView[] }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState<string | null>(null);
  return (
    <table className="hosts" data-testid="host-table">
      <thead><tr><th>{t('deployment.host')}</th><th>{t('deployment.status')}</th><th>{t('deployment.reason')}</th><th>{t('deployment.files')}</th><th>{t('deployment.attempts')}</th><th>{t('deployment.duration')}</th><th /></tr></thead>
      <tbody>
        {hosts.map((h) => (
          <Fragment key={h.ip}>
            <tr data-host={h.ip}>
              <td><Raw>{h.ip}</Raw>{h.hostname && <> <span className="muted"><Raw>{h.hostname}</Raw></span></>}</td>
              <td><Status s={h.status} /></td>
              <td className="reason" data-testid="reason"><Raw>{h.reason ?? ''}</Raw></td>
              <td><Raw>{h.filesChanged ?? '—'}</Raw></td>
              <td><Raw>{h.attempts}</Raw></td>
              <td><Duration ms={h.durationMs} /></td>
              <td>{(h.changes.length > 0 || h.stderrTail) && <button className="link" onClick={() => setOpen(open === h.ip ? null : h.ip)}>{open === h.ip ? t('common.hide') : t('common.show')}</button>}</td>
            </tr>
            {open === h.ip && (
              <tr className="detail"><td colSpan={7}>
                {h.changes.length > 0 && <><h4>{t('deployment.changes')}</h4><ul className="files">{h.changes.map((c) => <li key={c}><Raw>{c}</Raw></li>)}</ul></>}
                {h.stderrTail && <><h4>{t('deployment.stderr')}</h4><pre data-raw="">{h.stderrTail}</pre></>}
              </td></tr>
            )}
          </Fragment>
        ))}
      </tbody>
    </table>
  );
}
