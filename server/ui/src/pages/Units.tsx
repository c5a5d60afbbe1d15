// Every unit with its deployed commit, host count, drift and failure state.
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api } from '../api.js';
import { Failure, Loading, Raw, Sha, Status, Time } from '../components.js';
import { href } from '../lib/route.js';
import type { UnitListItem } from '../lib/types.js';

export function Units() {
  const { t } = useTranslation();
  const q = useQuery({ queryKey: ['units'], queryFn: () => api<{ head: string | null; items: UnitListItem[] }>('/units') });
  if (q.isPending) return <Loading />;
  if (q.isError) return <Failure error={q.error} />;
  return (
    <div>
      <h1>{t('units.title')}</h1>
      <table data-testid="units">
        <thead><tr><th>{t('table.unit')}</th><th>{t('table.commit')}</th><th>{t('table.hosts')}</th><th>{t('table.deployedAt')}</th><th>{t('table.status')}</th><th>{t('overview.drift')}</th></tr></thead>
        <tbody>{q.data.items.map((u) => (
          <tr key={u.unit}>
            <td><a href={href({ page: 'unit', unit: u.unit })}><Raw>{u.unit}</Raw></a></td>
            <td><Sha sha={u.lastCommit} /></td>
            <td><Raw>{u.deployedHosts}</Raw></td>
            <td><Time iso={u.lastDeployedAt} /></td>
            <td>{u.failing ? <Status s="failed" /> : !u.inRepo ? t('units.notInRepo') : u.upToDate ? t('units.upToDate') : t('units.behindHead')}</td>
            <td>{u.drift ? <>{u.drift.drifted > 0 ? <Status s="drifted" /> : <Status s="in_sync" />} <Raw>{u.drift.drifted}/{u.drift.in_sync + u.drift.drifted + u.drift.unreachable + u.drift.error}</Raw></> : '—'}</td>
          </tr>
        ))}</tbody>
      </table>
    </div>
  );
}
