// gitfleet hosts [--env E] [--app A]: the built-in inventory, every page of it.
import { isSegment } from '../../util/validate.js';
import { emit, type CommandEnv } from '../command-env.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { hostsTable, type ApiHost } from '../views.js';

const PAGE = 1000; // the API's largest page

export async function hostsCommand(env: CommandEnv, o: { env?: string; app?: string }): Promise<ExitCode> {
  for (const [k, v] of Object.entries(o)) if (v !== undefined && !isSegment(v)) throw new CliError(EXIT.usage, `--${k} must be a plain name; got ${JSON.stringify(v)}`);
  const items: ApiHost[] = [];
  let total = 0;
  do {
    const page = await env.api.get<{ items: ApiHost[]; total: number }>('api/v1/hosts', { env: o.env, app: o.app, limit: String(PAGE), offset: String(items.length) });
    items.push(...page.items);
    total = page.total;
    if (page.items.length === 0) break;
  } while (items.length < total);
  emit(env, { items, total }, () => hostsTable(items));
  return EXIT.ok;
}
