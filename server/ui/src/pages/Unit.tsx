// One unit: its files at the deployed commit (tree + file view), its .gitfleet.yaml, history, hosts; actions: sync
// now, dry run (per-host preview), rollback to an earlier deployed commit (a dialog names what will change).
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api } from '../api.js';
import { ConfirmButton, Failure, Loading, Raw, Section, Sha, Status, Time } from '../components.js';
import { FileTree } from './FileTree.js';
import { shortSha } from '../lib/format.js';
import { href } from '../lib/route.js';
import type { DeploymentView, Paged } from '../lib/types.js';

interface FileView { path: string; size: number; binary: boolean; truncated: boolean; content: string | null }

export function Unit({ unit }: { unit: string }) {
  const { t } = useTranslation();
  const files = useQuery({ queryKey: ['unit', unit, 'files'], queryFn: () => api<{ commit: string; files: string[] }>(`/units/${unit}/tree`) });
  const hosts = useQuery({ queryKey: ['unit', unit, 'hosts'], queryFn: () => api<{ lastCommit: string | null; hosts: Array<{ ip: string; commit: string; deployedAt: string; deploymentId: number | null }> }>(`/units/${unit}/hosts`) });
  const history = useQuery({ queryKey: ['unit', unit, 'history'], queryFn: () => api<Paged<DeploymentView>>(`/deployments?unit=${encodeURIComponent(unit)}&limit=20`) });
  const meta = useQuery({
    queryKey: ['unit', unit, 'meta', files.data?.commit],
    enabled: !!files.data?.files.includes('.gitfleet.yaml'),
    queryFn: () => api<FileView>(`/units/${unit}/blob?path=.gitfleet.yaml&commit=${files.data!.commit}`),
  });
  const [path, setPath] = useState<string | null>(null);
  const file = useQuery({ queryKey: ['unit', unit, 'file', files.data?.commit, path], enabled: !!path && !!files.data, queryFn: () => api<FileView>(`/units/${unit}/blob?path=${encodeURIComponent(path!)}&commit=${files.data!.commit}`) });
  const [queued, setQueued] = useState<number | null>(null);
  const [preview, setPreview] = useState<DeploymentView | null>(null);
  const sync = useMutation({ mutationFn: () => api<{ id: number }>('/deployments', { method: 'POST', body: { units: [unit] } }), onSuccess: (r) => setQueued(r.id) });
  const dry = useMutation({ mutationFn: () => api<DeploymentView>('/deployments', { method: 'POST', body: { units: [unit], dryRun: true, wait: true } }), onSuccess: (r) => setPreview(r) });
  const [target, setTarget] = useState('');
  const rollback = useMutation({ mutationFn: (commit: string) => api<{ id: number }>('/rollback', { method: 'POST', body: { units: [unit], commit } }), onSuccess: (r) => setQueued(r.id) });

  // Where the unit stands: the commit of its latest whole-unit, real deployment (a partial push or a rollback too).
  const real = (history.data?.items ?? []).filter((d) => !d.request.dryRun && !d.request.hosts && d.after);
  const current = real[0]?.after ?? hosts.data?.lastCommit ?? null;
  const earlier = [...new Set(real.filter((d) => d.status === 'succeeded' && d.after !== current).map((d) => d.after!))];
  return (
    <div>
      <h1><Raw>{unit}</Raw> <Sha sha={current} /></h1>
      <div className="row actions">
        <ConfirmButton testId="sync-now" label={t('unit.syncNow')} question={t('unit.syncConfirm', { unit })} onConfirm={() => sync.mutate()} disabled={sync.isPending} />
        <button data-testid="dry-run" onClick={() => dry.mutate()} disabled={dry.isPending}>{t('unit.dryRun')}</button>
        <label>{t('unit.rollbackTo')}{' '}
          <select value={target} onChange={(e) => setTarget(e.target.value)} data-testid="rollback-target">
            <option value="">—</option>
            {earlier.map((c) => <option key={c} value={c} data-raw="">{shortSha(c)}</option>)}
          </select>
        </label>
        <ConfirmButton testId="rollback" label={t('unit.rollback')} disabled={!target || rollback.isPending}
          question={t('unit.rollbackConfirm', { unit, from: shortSha(current), to: shortSha(target) })} onConfirm={() => rollback.mutate(target)} />
      </div>
      {queued && <p className="note" role="status">{t('unit.queued', { id: '' })}<a href={href({ page: 'deployment', id: queued })}><Raw>{queued}</Raw></a></p>}
      {[sync, dry, rollback].map((m, i) => m.isError && <Failure key={i} error={m.error} />)}
      {dry.isPending && <Loading />}
      {preview && (
        <Section title={<>{t('unit.preview')} <a href={href({ page: 'deployment', id: preview.id })}><Raw>#{preview.id}</Raw></a></>}>
          <ul data-testid="preview">
            {(preview.hosts ?? []).map((h) => (
              <li key={h.ip} data-host={h.ip}><Status s={h.status} /> {t('unit.previewHost', { ip: h.ip, count: h.changes.length })}
                {h.changes.length > 0 && <ul className="files">{h.changes.map((c) => <li key={c}><Raw>{c}</Raw></li>)}</ul>}
                {h.reason && <div className="reason"><Raw>{h.reason}</Raw></div>}
              </li>
            ))}
          </ul>
        </Section>
      )}
      <div className="grid">
        <Section title={t('unit.files', { commit: shortSha(files.data?.commit) })}>
          {files.isPending ? <Loading /> : files.isError ? <Failure error={files.error} /> : (
            <div className="split">
              <FileTree key={files.data.commit} files={files.data.files} selected={path} onSelect={setPath} />
              <div className="fileview" data-testid="file-view">
                {path && <p className="muted" data-raw="" data-testid="file-path">{path}</p>}
                {!path ? <p className="muted">{t('unit.selectFile')}</p> : file.isPending ? <Loading /> : file.isError ? <Failure error={file.error} /> : file.data.binary ? <p>{t('unit.binary', { size: file.data.size })}</p> : (
                  <>{file.data.truncated && <p className="muted">{t('unit.truncated')}</p>}<pre data-raw="" data-testid="file-content">{file.data.content}</pre></>
                )}
              </div>
            </div>
          )}
        </Section>
        <Section title={t('unit.metadata')}>
          {!files.data?.files.includes('.gitfleet.yaml') ? <p className="muted">{t('unit.noMetadata')}</p> : meta.data ? <pre data-raw="">{meta.data.content}</pre> : <Loading />}
        </Section>
        <Section title={t('unit.hosts')}>
          {hosts.isPending ? <Loading /> : hosts.isError ? <Failure error={hosts.error} /> : (
            <table><thead><tr><th>{t('table.ip')}</th><th>{t('table.commit')}</th><th>{t('table.deployedAt')}</th></tr></thead>
              <tbody>{hosts.data.hosts.map((h) => <tr key={h.ip}><td><Raw>{h.ip}</Raw></td><td><Sha sha={h.commit} /></td><td><Time iso={h.deployedAt} /></td></tr>)}</tbody></table>
          )}
        </Section>
        <Section title={t('unit.history')}>
          {history.isPending ? <Loading /> : history.isError ? <Failure error={history.error} /> : (
            <table><thead><tr><th>{t('table.id')}</th><th>{t('table.status')}</th><th>{t('table.commit')}</th><th>{t('table.trigger')}</th><th>{t('table.created')}</th></tr></thead>
              <tbody>{history.data.items.map((d) => (
                <tr key={d.id}><td><a href={href({ page: 'deployment', id: d.id })}><Raw>#{d.id}</Raw></a></td><td><Status s={d.status} />{d.request.dryRun && <> <Status s="dry" /></>}</td><td><Sha sha={d.after} /></td><td><Raw>{d.trigger}</Raw></td><td><Time iso={d.createdAt} /></td></tr>
              ))}</tbody></table>
          )}
        </Section>
      </div>
    </div>
  );
}
