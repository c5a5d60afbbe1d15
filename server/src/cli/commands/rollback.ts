// gitfleet rollback <mod/env/app> <commit>: deploy the unit as it was at an earlier commit, after a dry run shown
// and confirmed on a terminal (or --yes); refused where no one can confirm.
import { parseCommit, parseUnit } from '../args.js';
import { emit, followToEnd, type CommandEnv } from '../command-env.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { deploymentDetail, succeeded } from '../views.js';
import { dryRun, previewText } from './diff.js';

export async function rollbackCommand(env: CommandEnv, rawUnit: string, rawCommit: string, o: { yes?: boolean; wait?: boolean; files?: boolean }): Promise<ExitCode> {
  const unit = parseUnit(rawUnit);
  const commit = parseCommit(rawCommit);
  const body = { units: [unit], commit, actor: env.actor };
  if (!o.yes) {
    if (!env.io.interactive) throw new CliError(EXIT.usage, 'refusing to roll back without --yes: no terminal to confirm on');
    // What will change, from the server itself: the same request, dry.
    const preview = await dryRun(env, 'api/v1/rollback', body);
    env.io.err(previewText(preview));
    const target = preview.unitResults?.[0]?.commit ?? commit;
    const hosts = preview.hosts?.length ?? 0;
    if (!succeeded(preview)) env.io.err(`\nwarning: the dry run did not succeed on every host (${preview.status})\n`);
    const answer = await env.io.ask(`\nRoll back ${unit} to ${target} on ${hosts} host${hosts === 1 ? '' : 's'}? [y/N] `);
    if (!/^(y|yes)$/i.test(answer.trim())) throw new CliError(EXIT.cancelled, 'rollback cancelled; nothing was changed');
  }
  const queued = await env.api.post<{ id: number; coalesced: boolean }>('api/v1/rollback', { ...body, wait: false });
  if (o.wait === false) {
    emit(env, queued, () => `deployment ${queued.id} queued: rollback of ${unit} to ${commit}\nfollow it: gitfleet deployment ${queued.id} --wait\n`);
    return EXIT.ok;
  }
  const d = await followToEnd(env, queued.id);
  emit(env, d, () => deploymentDetail(d, env.io.now(), { files: o.files }));
  return succeeded(d) ? EXIT.ok : EXIT.failed;
}
