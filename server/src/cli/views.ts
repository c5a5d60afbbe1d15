// PURE: the API's shapes as the CLI prints them (tables and summaries), the outcome of a deployment and its progress.
import type { Host } from '../db/hosts.js';
import type { HostRsync } from '../db/host-rsync.js';
import type { DeploymentView, HostPushView } from '../deploy/types.js';
import type { HostDiff } from '../deploy/host-diff.js';
import { hostDiffText } from '../preview/render.js';
import { between, formatAge, formatDuration, renderTable, shortSha } from './render.js';

/** A host push as the API sends it; dry runs may carry a content diff (a newer server adds `diff`). */
export type ApiHostPush = HostPushView & { diff?: HostDiff | null };
export type ApiDeployment = DeploymentView & { hosts?: ApiHostPush[] };
export type ApiHost = Host & { rsync: HostRsync | null };

const FINAL = new Set(['succeeded', 'partial', 'failed', 'interrupted']);
export const isFinal = (d: Pick<DeploymentView, 'status'>): boolean => FINAL.has(d.status);

/** Whether a finished deployment is a success for the exit code: every unit and every host succeeded. */
export function succeeded(d: ApiDeployment): boolean {
  return d.status === 'succeeded' && !(d.hosts ?? []).some((h) => h.status !== 'succeeded' && h.status !== 'skipped');
}

const isDry = (d: DeploymentView): boolean => d.request.kind === 'sync' && d.request.dryRun === true;

/** Hosts done / total and failures so far, e.g. "deployment 12 running: 3/5 hosts done, 1 failed". */
export function progressLine(d: ApiDeployment): string {
  const hosts = d.hosts ?? [];
  const done = hosts.filter((h) => h.status !== 'pending' && h.status !== 'running').length;
  const failed = hosts.filter((h) => h.status === 'failed' || h.status === 'aborted').length;
  const units = d.unitResults?.length ? `, ${d.unitResults.length} unit${d.unitResults.length === 1 ? '' : 's'}` : '';
  return `deployment ${d.id} ${d.status}: ${done}/${hosts.length} hosts done${failed ? `, ${failed} failed` : ''}${units}`;
}

/** The list of deployments, newest first. */
export function deploymentsTable(items: DeploymentView[], now: number): string {
  return renderTable(['ID', 'STATUS', 'TRIGGER', 'ACTOR', 'UNITS', 'COMMIT', 'AGE', 'DURATION'], items.map((d) => [
    d.id, d.status + (isDry(d) ? ' (dry run)' : ''), d.trigger, d.actor, unitsCell(d.units), shortSha(d.after),
    formatAge(d.createdAt, now), formatDuration(between(d.startedAt, d.finishedAt)),
  ]));
}

function unitsCell(units: string[]): string {
  if (units.length <= 2) return units.join(',');
  return `${units.slice(0, 2).join(',')} +${units.length - 2}`;
}

/** One deployment: its summary, per unit its result, per unit per host the push, failures' stderr and (dry runs, or files=true) the changes. */
export function deploymentDetail(d: ApiDeployment, now: number, opts: { files?: boolean } = {}): string {
  const lines: string[] = [];
  const field = (k: string, v: string) => lines.push(`${(k + ':').padEnd(10)} ${v}`);
  field('ID', String(d.id));
  field('Status', d.status + (isDry(d) ? ' (dry run: nothing changed)' : ''));
  field('Trigger', `${d.trigger}${d.actor ? ` by ${d.actor}` : ''}`);
  field('Commits', d.before ? `${shortSha(d.before)}..${shortSha(d.after)}` : shortSha(d.after));
  field('Created', `${d.createdAt} (${formatAge(d.createdAt, now)} ago)`);
  field('Duration', formatDuration(between(d.startedAt, d.finishedAt)));
  if (d.error) field('Error', d.error);
  let out = lines.join('\n') + '\n';
  const units = d.unitResults ?? [];
  if (units.length) out += '\n' + renderTable(['UNIT', 'COMMIT', 'STATUS', 'HOSTS', 'REASON'], units.map((u) => [u.unit, shortSha(u.commit), u.status, u.hostCount, u.reason]));
  const hosts = d.hosts ?? [];
  if (hosts.length) {
    out += '\n' + renderTable(['UNIT', 'HOST', 'STATUS', 'ATTEMPTS', 'DURATION', 'FILES', 'REASON'], hosts.map((h) => [
      h.unit, h.hostname ? `${h.ip} (${h.hostname})` : h.ip, h.status, h.attempts, formatDuration(h.durationMs), h.filesChanged, h.reason,
    ]));
  }
  for (const h of hosts.filter((x) => x.status === 'failed' && x.stderrTail)) {
    out += `\nstderr of ${h.ip} (${h.unit}):\n${indent(h.stderrTail!.trimEnd().split('\n').slice(-8).join('\n'))}\n`;
  }
  if (isDry(d) || opts.files) out += changesText(hosts);
  return out;
}

/** Per host what changed (or would change): "+path" sent, "-path" removed, "~path" attributes; then the diff when there is one. */
export function changesText(hosts: ApiHostPush[]): string {
  let out = '';
  for (const h of hosts) {
    const head = `\n${h.unit} on ${h.ip}:`;
    if (h.status !== 'succeeded') {
      out += `${head} ${h.status}${h.reason ? `: ${h.reason}` : ''}\n`;
      continue;
    }
    if (!h.changes.length && !h.diff) {
      out += `${head} no changes\n`;
      continue;
    }
    out += `${head}\n${indent(h.changes.join('\n'))}\n`;
    if (h.diff?.files.length) out += indent(hostDiffText(h.diff).trimEnd()) + '\n';
  }
  return out;
}

const indent = (s: string) => s.split('\n').map((l) => `  ${l}`).join('\n');

/** The inventory: one row per host. */
export function hostsTable(items: ApiHost[]): string {
  return renderTable(['ID', 'IP', 'HOSTNAME', 'ENV', 'APPS', 'SOURCE', 'RSYNC'], items.map((h) => [
    h.id, h.ip, h.hostname, h.env, h.apps.join(','), h.source,
    h.rsync ? `${h.rsync.version ?? '?'}${h.rsync.supported ? '' : ' (unsupported)'}` : null,
  ]));
}
