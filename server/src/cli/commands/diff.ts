// gitfleet diff <mod/env/app>: a dry run of the unit at the branch head, per host what would change.
import { parseIps, parseUnit } from '../args.js';
import { emit, followToEnd, type CommandEnv } from '../command-env.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { changesText, succeeded, type ApiDeployment } from '../views.js';

/** Submit a dry run (a recorded deployment that changes nothing) and follow it to its end. */
export async function dryRun(env: CommandEnv, path: 'api/v1/deployments' | 'api/v1/rollback', body: Record<string, unknown>): Promise<ApiDeployment> {
  const { id } = await env.api.post<{ id: number }>(path, { ...body, dryRun: true, wait: false });
  return followToEnd(env, id);
}

/** The dry run's answer in words: the commit it compares with and, per host, the changes (or why it could not tell). */
export function previewText(d: ApiDeployment): string {
  const commit = d.unitResults?.[0]?.commit ?? d.after;
  const head = `dry run ${d.id} of ${d.units.join(', ')} at ${commit ?? '?'}: ${d.status}\n`;
  const held = (d.unitResults ?? []).filter((u) => u.reason).map((u) => `${u.unit}: ${u.reason}\n`).join('');
  return head + held + (d.hosts?.length ? changesText(d.hosts) : '\nno hosts\n');
}

export async function diffCommand(env: CommandEnv, rawUnit: string, o: { host?: string[] }): Promise<ExitCode> {
  const unit = parseUnit(rawUnit);
  const hosts = parseIps(o.host);
  const d = await dryRun(env, 'api/v1/deployments', { units: [unit], ...(hosts ? { hosts } : {}), actor: env.actor });
  emit(env, d, () => previewText(d));
  return succeeded(d) ? EXIT.ok : EXIT.failed;
}
