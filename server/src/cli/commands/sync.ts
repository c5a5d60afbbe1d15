// gitfleet sync <env>/<app>: a full sync of the unit(s) through GET /sync, optionally waited for (exit code = outcome).
import { parseIps, parseSyncTarget } from '../args.js';
import { emit, followToEnd, type CommandEnv } from '../command-env.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { deploymentDetail, succeeded } from '../views.js';

export interface SyncOptions { mod?: string; dryRun?: boolean; wait?: boolean; host?: string[]; force?: boolean; override?: boolean; reason?: string; files?: boolean }

/** The /sync query for these options (validated first: usage errors before any request). */
export function syncQuery(target: string, o: SyncOptions): Record<string, string | string[] | undefined> {
  const t = parseSyncTarget(target, o.mod);
  const hosts = parseIps(o.host);
  if (o.reason !== undefined && !o.override) throw new CliError(EXIT.usage, '--reason goes with --override');
  if (o.override && !o.reason?.trim()) throw new CliError(EXIT.usage, '--override needs --reason TEXT (recorded with the deployment)');
  return {
    env: t.env, app: t.app, mod: t.mod,
    dryRun: o.dryRun ? 'true' : undefined,
    force: o.force ? 'true' : undefined,
    host: hosts,
    // A sync window may refuse the sync (423); an override goes through, with its reason on record.
    override: o.override ? 'true' : undefined,
    reason: o.override ? o.reason!.trim() : undefined,
    wait: 'false',
  };
}

export async function syncCommand(env: CommandEnv, target: string, o: SyncOptions): Promise<ExitCode> {
  const query = syncQuery(target, o);
  const queued = await env.api.get<{ id: number; coalesced: boolean; units: string[] }>('sync', query);
  // A dry run is only worth its result, so it is always waited for.
  if (!o.wait && !o.dryRun) {
    emit(env, queued, () => `deployment ${queued.id} ${queued.coalesced ? 'joined (an identical request was queued)' : 'queued'}: ${queued.units.join(', ')}\nfollow it: gitfleet deployment ${queued.id} --wait\n`);
    return EXIT.ok;
  }
  const d = await followToEnd(env, queued.id);
  emit(env, d, () => deploymentDetail(d, env.io.now(), { files: o.files }));
  return succeeded(d) ? EXIT.ok : EXIT.failed;
}
