// PURE: the preview comment (Markdown, as GitLab and GitHub render it): a summary table, then per unit the diff
// its hosts would get in a collapsed <details> (hosts with the same diff share one), capped in size.
import type { FileDiff, HostDiff } from '../deploy/host-diff.js';
import type { PreviewResult, UnitPreview } from './run.js';

/** Marks the comment as gitfleet's (also how a reader tells it from a human's). */
export const COMMENT_MARKER = '<!-- gitfleet-preview -->';

export interface RenderOptions { maxBytes: number; dashboardUrl?: string; branch: string }

/** Text for a comment others read: credentials in URLs (git and inventory errors may quote one) masked, HTML escaped. */
const escapeHtml = (s: string) => s.replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^\s/@]+@/g, '$1***@')
  .replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** A code fence longer than any run of backticks in the text (a diff of Markdown must not close it). */
function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(longest + 1);
}

function fileText(f: FileDiff): string {
  switch (f.kind) {
    case 'modified': case 'added': case 'removed': return f.diff ?? `${f.path}: ${f.kind} (${f.note ?? 'diff not kept'})\n`;
    case 'binary': return `${f.path}: binary, ${f.hostBytes ?? 0} → ${f.newBytes ?? 0} bytes\n`;
    case 'too_large': return `${f.path}: too large to diff (${f.hostBytes ?? '-'} → ${f.newBytes ?? '-'} bytes)\n`;
    case 'attributes': return `${f.path}: mode or owner only\n`;
    case 'not_read': return `${f.path}: not read (${f.note ?? 'unknown'})\n`;
  }
}

/** PURE: the text of one host's diff (all its files). */
export function hostDiffText(d: HostDiff): string {
  const body = d.files.map(fileText).join('');
  return d.omitted ? `${body}… and ${d.omitted} more changed file(s) not shown\n` : body;
}

function summaryRow(u: UnitPreview): string {
  const n = (s: string) => u.hosts.filter((h) => h.state === s).length;
  const hosts = u.hostCount > u.hosts.length ? `${u.hosts.length} of ${u.hostCount}` : String(u.hostCount);
  const errors = n('error');
  const changed = `${n('changed')}${errors ? ` (+${errors} error)` : ''}`;
  const breaker = u.breaker ? `⚠ ${cell(u.breaker)}` : '—';
  // Sync windows: filled by the sync-windows feature (windowsBlocking); empty until then.
  const windows = u.syncWindowConflicts.length ? cell(u.syncWindowConflicts.join(', ')) : '—';
  if (u.error) return `| \`${u.unit}\` | ${u.hostCount || '?'} | — | — | — | — | — | ${windows} |\n`;
  return `| \`${u.unit}\` | ${hosts} | ${changed} | ${n('unchanged')} | ${n('unreachable')} | ${u.deletions} | ${breaker} | ${windows} |\n`;
}

function unitSection(u: UnitPreview): string {
  if (u.error) return `<details><summary><code>${u.unit}</code>: ${escapeHtml(u.error)}</summary>\n\n</details>\n`;
  const groups = new Map<string, string[]>();
  for (const h of u.hosts) {
    if (h.state !== 'changed') continue;
    const text = h.diff ? hostDiffText(h.diff) : h.changes.map((c) => `${c}\n`).join('');
    groups.set(text, [...(groups.get(text) ?? []), h.ip]);
  }
  const others = u.hosts.filter((h) => h.state !== 'changed').map((h) => `${h.ip}: ${h.state}${h.reason ? ` (${h.reason.slice(0, 200)})` : ''}`);
  let out = '';
  for (const [text, ips] of groups) {
    const f = fence(text);
    out += `<details><summary><code>${u.unit}</code> on ${ips.join(', ')}</summary>\n\n${f}diff\n${text}${f}\n\n</details>\n`;
  }
  if (!groups.size) out += `<details><summary><code>${u.unit}</code>: no host would change</summary>\n\n`
    + `${others.map((o) => `- ${escapeHtml(o)}`).join('\n')}\n\n</details>\n`;
  else if (others.length) out += `\n${others.map((o) => `- ${escapeHtml(o)}`).join('\n')}\n`;
  return out;
}

/** PURE: the comment body for a finished preview (or a failed one: `error`). */
export function renderComment(r: { result?: PreviewResult; error?: string; headSha: string }, o: RenderOptions): string {
  const head = `${COMMENT_MARKER}\n### gitfleet preview of \`${(r.result?.head ?? r.headSha).slice(0, 12)}\`\n\n`;
  const link = o.dashboardUrl ? `[Full preview in the gitfleet dashboard](${o.dashboardUrl})` : '';
  if (!r.result) return `${head}The preview failed: ${escapeHtml(r.error ?? 'unknown error')}\n`;
  const res = r.result;
  if (res.units.length === 0) return `${head}This change touches no deployable unit (compared with \`${o.branch}\` at \`${res.base.slice(0, 12)}\`).\n`;
  const what = res.content === 'merge'
    ? `What each sampled host would get once merged into \`${o.branch}\` (at \`${res.target.slice(0, 12)}\`)`
    : `⚠ This conflicts with \`${o.branch}\` (at \`${res.target.slice(0, 12)}\`): what each sampled host would get from the merge request's head as it is`;
  let body = `${head}${what}; units changed since the merge base \`${res.base.slice(0, 12)}\`. A dry run on each host, nothing written.\n\n`
    + '| unit | hosts | changed | unchanged | unreachable | deletions | breaker | sync-window conflicts |\n'
    + '| --- | --- | --- | --- | --- | --- | --- | --- |\n'
    + res.units.map(summaryRow).join('') + '\n';
  const tail = (cut: number) => (cut ? `\n_${cut} unit section(s) left out (comment size cap)._${link ? ` ${link}` : ''}\n` : link ? `\n${link}\n` : '');
  const budget = o.maxBytes - Buffer.byteLength(tail(res.units.length)) - 16;
  let cut = 0;
  for (const u of res.units) {
    const s = unitSection(u);
    if (cut === 0 && Buffer.byteLength(body) + Buffer.byteLength(s) <= budget) body += s;
    else cut++;
  }
  const full = body + tail(cut);
  if (Buffer.byteLength(full) <= o.maxBytes) return full;
  // Only a summary table of very many units gets here: cut it at a line, the end says so.
  const note = `\n_Cut at the comment size cap._${link ? ` ${link}` : ''}\n`;
  const kept = Buffer.from(full).subarray(0, o.maxBytes - Buffer.byteLength(note)).toString('utf8');
  return kept.slice(0, kept.lastIndexOf('\n') + 1) + note;
}
