// The shell: session check (sign-in form, open-API banner), navigation, language switch, live-stream state, pages.
import { QueryClient, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { api, ApiError, setCsrf } from './api.js';
import { Failure, Loading, Raw } from './components.js';
import { LANGUAGES } from './i18n.js';
import { useLiveEvents } from './live.js';
import { href, parseRoute, type Route } from './lib/route.js';
import type { Session } from './lib/types.js';
import { Deployment } from './pages/Deployment.js';
import { Host, Hosts } from './pages/Hosts.js';
import { Matrix } from './pages/Matrix.js';
import { Overview } from './pages/Overview.js';
import { EsSync, HostSync } from './pages/Syncs.js';
import { Unit } from './pages/Unit.js';
import { Units } from './pages/Units.js';

function useRoute(): Route {
  const [r, setR] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setR(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return r;
}

export function App() {
  const session = useQuery({ queryKey: ['session'], queryFn: () => api<Session>('/session'), staleTime: Infinity });
  useEffect(() => { setCsrf(session.data?.csrfToken ?? null); }, [session.data]);
  if (session.isPending) return <Loading />;
  if (session.isError) return <Failure error={session.error} />;
  if (!session.data.open && !session.data.signedIn) return <SignIn />;
  return <Shell session={session.data} />;
}

function SignIn() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [token, setToken] = useState('');
  const m = useMutation({
    mutationFn: (tk: string) => api<Session>('/session', { method: 'POST', body: { token: tk } }),
    onSuccess: (s) => { setCsrf(s.csrfToken); qc.setQueryData(['session'], s); setToken(''); },
  });
  const submit = (e: FormEvent) => { e.preventDefault(); m.mutate(token); };
  return (
    <main className="signin">
      <form onSubmit={submit} className="card">
        <h1>{t('signIn.title')}</h1>
        <p className="muted">{t('signIn.help')}</p>
        <label>{t('signIn.token')} <input type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} name="token" data-testid="token" /></label>
        <button className="primary" type="submit" disabled={!token || m.isPending} data-testid="sign-in">{t('signIn.submit')}</button>
        {m.isError && <p className="error" role="alert">{t('signIn.failed', { message: '' })}<Raw>{(m.error as Error).message}</Raw></p>}
        <LanguageSwitch />
      </form>
    </main>
  );
}

function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  return (
    <label className="lang">{t('app.language')}{' '}
      <select value={i18n.language} onChange={(e) => void i18n.changeLanguage(e.target.value)} data-testid="language">
        {LANGUAGES.map((l) => <option key={l.code} value={l.code} data-raw="">{l.label}</option>)}
      </select>
    </label>
  );
}

function Shell({ session }: { session: Session }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const route = useRoute();
  const live = useLiveEvents(qc, true);
  const signOut = useMutation({
    mutationFn: () => api('/session', { method: 'DELETE' }),
    onSettled: () => { setCsrf(null); qc.clear(); void qc.invalidateQueries({ queryKey: ['session'] }); },
  });
  const nav: Array<[Route, string]> = [
    [{ page: 'overview' }, t('nav.overview')], [{ page: 'matrix' }, t('nav.matrix')], [{ page: 'units' }, t('nav.units')],
    [{ page: 'hosts' }, t('nav.hosts')], [{ page: 'hostSync' }, t('nav.hostSync')], [{ page: 'esSync' }, t('nav.esSync')],
  ];
  return (
    <>
      {session.open && <div className="banner" role="alert" data-testid="open-banner">{t('app.openBanner')}</div>}
      <header className="top">
        <a className="brand" href="#/">{t('app.title')}</a>
        <nav>{nav.map(([r, label]) => <a key={r.page} href={href(r)} className={route.page === r.page ? 'on' : ''}>{label}</a>)}</nav>
        <span className={`live ${live}`} data-testid="live" data-state={live}>{live === 'live' ? t('app.live') : t('app.disconnected')}</span>
        <LanguageSwitch />
        {session.signedIn && <>
          <span className="muted">{t('app.signedInAs', { actor: '' })}<Raw>{session.actor}</Raw></span>
          <button onClick={() => signOut.mutate()} data-testid="sign-out">{t('app.signOut')}</button>
        </>}
      </header>
      <main>{page(route, t('app.notFound'))}</main>
    </>
  );
}

function page(r: Route, notFound: string) {
  switch (r.page) {
    case 'overview': return <Overview />;
    case 'deployment': return <Deployment key={r.id} id={r.id} />;
    case 'matrix': return <Matrix />;
    case 'hosts': return <Hosts />;
    case 'host': return <Host key={r.id} id={r.id} />;
    case 'units': return <Units />;
    case 'unit': return <Unit key={r.unit} unit={r.unit} />;
    case 'hostSync': return <HostSync />;
    case 'esSync': return <EsSync />;
    case 'notFound': return <p>{notFound}</p>;
  }
}

/** 401 anywhere (session expired, token removed): back to the sign-in form. */
export function createQueryClient(): QueryClient {
  const qc: QueryClient = new QueryClient({
    defaultOptions: {
      queries: { refetchOnWindowFocus: false, staleTime: 30_000, retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 2 },
    },
  });
  qc.getQueryCache().subscribe((ev) => {
    const err = ev.query.state.error;
    if (ev.type === 'updated' && err instanceof ApiError && err.status === 401 && ev.query.queryKey[0] !== 'session') void qc.invalidateQueries({ queryKey: ['session'] });
  });
  return qc;
}
