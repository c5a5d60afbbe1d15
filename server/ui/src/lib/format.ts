// PURE: dates in the viewer's locale and time zone, durations a human reads, short commits.

/** A timestamp in the viewer's locale (and time zone unless one is given, for tests). */
export function formatDateTime(iso: string | null | undefined, locale: string, timeZone?: string): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium', ...(timeZone ? { timeZone } : {}) }).format(d);
}

/** 850 ms → "850 ms"; 65 s → "1 min 5 s"; in the locale's own unit words (Intl number units). */
export function formatDuration(ms: number | null | undefined, locale: string): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const unit = (v: number, u: string) => new Intl.NumberFormat(locale, { style: 'unit', unit: u, unitDisplay: 'short', maximumFractionDigits: u === 'second' && v < 10 ? 1 : 0 }).format(v);
  if (ms < 1000) return unit(Math.round(ms), 'millisecond');
  const s = ms / 1000;
  if (s < 60) return unit(s, 'second');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = Math.floor(s % 60);
  const parts = [h ? unit(h, 'hour') : '', m ? unit(m, 'minute') : '', !h && rest ? unit(rest, 'second') : ''].filter(Boolean);
  return parts.join(' ');
}

export const shortSha = (sha: string | null | undefined) => (sha ? sha.slice(0, 8) : '—');
