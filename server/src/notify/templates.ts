// PURE: which deployment ends a target wants, and the request body for each format (json, Slack, DingTalk, WeCom).
import type { DeploymentStatus, DeploymentView } from '../deploy/types.js';

export type NotifyFormat = 'json' | 'slack' | 'dingtalk' | 'wecom';
export type NotifyOn = 'failures' | 'all';

export const FAILURE_STATUSES: ReadonlySet<DeploymentStatus> = new Set(['partial', 'failed', 'interrupted']);

/** Message size limits of the bots (WeCom markdown: 4096 bytes; DingTalk: 20000 bytes; Slack advises 4000 chars). */
export const MAX_BYTES: Record<Exclude<NotifyFormat, 'json'>, number> = { slack: 3900, dingtalk: 18_000, wecom: 4000 };
const MAX_LISTED = 10;

/** Does a target with this filter announce this deployment? (A succeeded deployment that touched no unit never is.) */
export function wants(on: NotifyOn, d: DeploymentView): boolean {
  // A unit failing push after push is reported when it starts failing, not again on every push.
  if (FAILURE_STATUSES.has(d.status)) return !d.repeatFailure;
  return on === 'all' && d.status === 'succeeded' && d.units.length > 0;
}

/** Free text (actor, reasons, errors) on one line, capped, with link/mention/markup brackets neutralised. */
export function clean(s: string | null | undefined, max = 200): string {
  const flat = (s ?? '').replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim()
    .replace(/\[/g, '(').replace(/\]/g, ')').replace(/</g, '‹').replace(/>/g, '›');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Cut text to a byte budget on a character boundary, marking the cut. */
export function capBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  const mark = '\n…(truncated)';
  const cut = Buffer.from(text).subarray(0, max - Buffer.byteLength(mark)).toString('utf8').replace(/\uFFFD+$/, '');
  return cut + mark;
}

export interface Summary { title: string; facts: string[]; failedHosts: string[]; link: string | null }

const short = (sha: string | null) => (sha ? sha.slice(0, 12) : null);

/** The facts every text format shows. */
export function summarize(d: DeploymentView, publicUrl?: string): Summary {
  const facts: string[] = [];
  facts.push(`Status: ${d.status}`);
  facts.push(`Trigger: ${d.trigger}${d.actor ? ` by ${clean(d.actor, 100)}` : ''}`);
  const range = d.before && d.after ? `${short(d.before)}..${short(d.after)}` : short(d.after) ?? '-';
  facts.push(`Commit: ${range} (${clean(d.branch, 60)})`);
  const units = d.unitResults?.length ? d.unitResults.map((u) => `${u.unit} ${u.status}`) : d.units;
  facts.push(`Units (${d.units.length}): ${units.slice(0, MAX_LISTED).join(', ')}${units.length > MAX_LISTED ? `, … ${units.length - MAX_LISTED} more` : ''}`);
  const hosts = d.hosts ?? [];
  if (hosts.length) {
    const count = (st: string) => hosts.filter((h) => h.status === st).length;
    const parts = [`${count('succeeded')} succeeded`, `${count('failed')} failed`];
    // Every host of the total is in some count: skipped (a rollout stopped) and any not yet final are named too.
    for (const st of ['aborted', 'skipped', 'pending', 'running'] as const) if (count(st)) parts.push(`${count(st)} ${st}`);
    facts.push(`Hosts (${hosts.length}): ${parts.join(', ')}`);
  }
  if (d.error) facts.push(`Error: ${clean(d.error, 300)}`);
  const failed = hosts.filter((h) => h.status === 'failed' || h.status === 'aborted');
  const failedHosts = failed.slice(0, MAX_LISTED).map((h) => `${h.ip} ${h.unit}: ${clean(h.reason ?? (h.exitCode !== null ? `exit ${h.exitCode}` : h.status), 160)}`);
  if (failed.length > MAX_LISTED) failedHosts.push(`… and ${failed.length - MAX_LISTED} more`);
  const link = publicUrl ? `${publicUrl.replace(/\/+$/, '')}/api/v1/deployments/${d.id}` : null;
  return { title: `gitfleet: deployment #${d.id} ${d.status}`, facts, failedHosts, link };
}

/** Plain text of a summary (the json format carries it beside the record). */
export function plainText(s: Summary): string {
  const lines = [s.title, ...s.facts];
  if (s.failedHosts.length) lines.push('Failed hosts:', ...s.failedHosts.map((h) => `- ${h}`));
  if (s.link) lines.push(`Details: ${s.link}`);
  return lines.join('\n');
}

const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The request body for a format. */
export function renderPayload(format: NotifyFormat, d: DeploymentView, publicUrl?: string): unknown {
  const s = summarize(d, publicUrl);
  const failing = FAILURE_STATUSES.has(d.status);
  switch (format) {
    case 'json':
      return { event: 'deployment.finished', deployment: d, summary: { title: s.title, text: plainText(s) }, url: s.link };
    case 'slack': {
      const lines = [`${failing ? ':x:' : ':white_check_mark:'} *${slackEscape(s.title)}*`, ...s.facts.map(slackEscape)];
      if (s.failedHosts.length) lines.push('*Failed hosts*', ...s.failedHosts.map((h) => `• ${slackEscape(h)}`));
      if (s.link) lines.push(`<${s.link}|Details>`);
      return { text: capBytes(lines.join('\n'), MAX_BYTES.slack) };
    }
    case 'dingtalk': {
      const parts = [`### ${s.title}`, s.facts.map((f) => `- ${f}`).join('\n')];
      if (s.failedHosts.length) parts.push('**Failed hosts**', s.failedHosts.map((h) => `- ${h}`).join('\n'));
      if (s.link) parts.push(`[Details](${s.link})`);
      return { msgtype: 'markdown', markdown: { title: s.title, text: capBytes(parts.join('\n\n'), MAX_BYTES.dingtalk) } };
    }
    case 'wecom': {
      const color = failing ? 'warning' : 'info';
      const lines = [`**${s.title.replace(d.status, `<font color="${color}">${d.status}</font>`)}**`, ...s.facts.map((f) => `> ${f}`)];
      if (s.failedHosts.length) lines.push('**Failed hosts**', ...s.failedHosts.map((h) => `> ${h}`));
      if (s.link) lines.push(`[Details](${s.link})`);
      return { msgtype: 'markdown', markdown: { content: capBytes(lines.join('\n'), MAX_BYTES.wecom) } };
    }
  }
}
