// gitfleet deployments [--watch] and gitfleet deployment <id> [--wait]: the deployment records.
import { parsePositiveInt, parseUnit } from '../args.js';
import { emit, followToEnd, type CommandEnv } from '../command-env.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { getDeployment, listDeployments, type ListFilter } from '../feed.js';
import type { DeploymentView } from '../../deploy/types.js';
import { deploymentDetail, deploymentsTable, succeeded } from '../views.js';

export async function deploymentsCommand(env: CommandEnv, o: { limit?: string; watch?: boolean; status?: string; unit?: string }): Promise<ExitCode> {
  const filter: ListFilter = {
    limit: o.limit === undefined ? 20 : parsePositiveInt(o.limit, '--limit', 500),
    ...(o.status !== undefined ? { status: o.status } : {}), // the server names the statuses it knows
    ...(o.unit !== undefined ? { unit: parseUnit(o.unit) } : {}),
  };
  if (!o.watch) {
    const page = await listDeployments(env.api, filter);
    emit(env, page, () => deploymentsTable(page.items, env.io.now()));
    return EXIT.ok;
  }
  await watch(env, filter);
  return EXIT.ok;
}

/**
 * Until interrupted: on a terminal the table redrawn on each change; otherwise (kubectl get -w) the rows of
 * deployments that are new or changed, appended — as JSON Lines, one deployment a line, with --output json.
 */
async function watch(env: CommandEnv, filter: ListFilter): Promise<void> {
  const seen = new Map<number, string>();
  const json = env.settings.output === 'json';
  let first = true;
  try {
    for await (const items of env.feed.watchList(filter, env.signal)) {
      const changed = items.filter((d) => seen.get(d.id) !== stateOf(d)).reverse(); // oldest first when appending
      for (const d of items) seen.set(d.id, stateOf(d));
      if (json) {
        for (const d of changed) env.io.out(JSON.stringify(d) + '\n');
      } else if (env.io.stdoutTTY) {
        env.io.out(`\x1b[H\x1b[2J${deploymentsTable(items, env.io.now())}`);
      } else if (changed.length) {
        const text = deploymentsTable(first ? items : changed, env.io.now());
        env.io.out(first ? text : text.slice(text.indexOf('\n') + 1)); // the header once
      }
      first = false;
    }
  } catch (err) {
    if (!env.signal.aborted) throw err; // Ctrl-C during a request ends the watch as it does between requests
  }
}

const stateOf = (d: DeploymentView) => `${d.status}|${d.startedAt}|${d.finishedAt}|${d.units.join(',')}`;

export async function deploymentCommand(env: CommandEnv, rawId: string, o: { wait?: boolean; files?: boolean }): Promise<ExitCode> {
  const id = parsePositiveInt(rawId, 'the deployment id');
  const d = o.wait ? await followToEnd(env, id) : await getDeployment(env.api, id);
  emit(env, d, () => deploymentDetail(d, env.io.now(), { files: o.files }));
  // Looking is a success; waiting reports the outcome, as sync --wait does.
  return !o.wait || succeeded(d) ? EXIT.ok : EXIT.failed;
}
