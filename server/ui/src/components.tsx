// Small shared pieces: translated statuses, dates and durations in the viewer's locale, data values (marked raw:
// never translated), a confirmation dialog, loading and error states.
import { type ReactNode, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { formatDateTime, formatDuration, shortSha } from './lib/format.js';

export function Raw({ children, title }: { children: ReactNode; title?: string }) {
  return <span data-raw="" title={title}>{children}</span>;
}

export function Status({ s }: { s: string }) {
  const { t } = useTranslation();
  return <span className={`badge st-${s}`} data-status={s}>{t(`status.${s}`, { defaultValue: s })}</span>;
}

export function Time({ iso }: { iso: string | null | undefined }) {
  const { i18n } = useTranslation();
  return <span title={iso ?? ''}>{formatDateTime(iso, i18n.language)}</span>;
}

export function Duration({ ms }: { ms: number | null | undefined }) {
  const { i18n } = useTranslation();
  return <span>{formatDuration(ms, i18n.language)}</span>;
}

export function Sha({ sha }: { sha: string | null | undefined }) {
  return <code data-raw="" title={sha ?? ''}>{shortSha(sha)}</code>;
}

export function Loading() {
  const { t } = useTranslation();
  return <p className="muted">{t('app.loading')}</p>;
}

export function Failure({ error }: { error: unknown }) {
  const { t } = useTranslation();
  return <p className="error" role="alert">{t('app.error', { message: '' })}<Raw>{(error as Error)?.message ?? String(error)}</Raw></p>;
}

export function Section({ title, children, actions, wide }: { title: ReactNode; children: ReactNode; actions?: ReactNode; wide?: boolean }) {
  return (
    <section className={wide ? 'card wide' : 'card'}>
      <header><h2>{title}</h2>{actions}</header>
      {children}
    </section>
  );
}

/** A button that asks first: the dialog names exactly what will happen. */
export function ConfirmButton({ label, question, onConfirm, disabled, testId }: { label: string; question: ReactNode; onConfirm: () => void; disabled?: boolean; testId?: string }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  return (
    <>
      <button disabled={disabled} onClick={() => setOpen(true)} data-testid={testId}>{label}</button>
      {open && (
        <div className="modal" role="dialog" aria-modal="true">
          <div className="modal-body">
            <p>{question}</p>
            <div className="row">
              <button className="primary" onClick={() => { setOpen(false); onConfirm(); }}>{t('unit.confirm')}</button>
              <button onClick={() => setOpen(false)}>{t('unit.cancel')}</button>
            </div>
          </div>
        </div>
      )}
    </>
  );
}
