// One check for every API that names units or hosts: unknown ones are a 404 naming them, before anything is recorded
// (a deployment that could only fail, with its failure notifications, is never started).
import type { AppContext } from '../context.js';
import { unitRecorded } from '../db/units.js';
import { inventoryEnv } from '../deploy/unit-run.js';
import type { SyncRequest } from '../deploy/types.js';
import { NotFoundError } from '../errors.js';
import { parseUnitKey, selectUnits, unitKey, type Unit } from '../gitops/targets.js';

const short = (sha: string) => sha.slice(0, 12);
const list = (xs: string[]) => (xs.length > 10 ? `${xs.slice(0, 10).join(', ')} and ${xs.length - 10} more` : xs.join(', '));

/** Units in the repo at these commits (a deployment at an earlier commit also covers units that exist only now). */
async function unitsAt(ctx: AppContext, commits: string[]): Promise<Map<string, Unit>> {
  const out = new Map<string, Unit>();
  for (const c of new Set(commits)) for (const u of await ctx.repo.listUnits(c)) out.set(unitKey(u), u);
  return out;
}

/**
 * The units a deployment request covers, as the deployer will resolve them (repo at the request's commit and at the
 * head just fetched), and its hosts: 404 naming any unit, selection or IP that it does not know.
 */
export async function requireDeployTargets(ctx: AppContext, req: SyncRequest, head: string): Promise<void> {
  const commits = req.commit && req.commit !== head ? [req.commit, head] : [head];
  const where = commits.map(short).join(' or ');
  const all = await unitsAt(ctx, commits);
  let units: Unit[];
  if (req.units) {
    const missing = req.units.filter((k) => !all.has(k));
    if (missing.length) throw new NotFoundError(`unknown unit(s) ${list(missing)}: not in the repo at ${where}`);
    units = req.units.map((k) => all.get(k)!);
  } else if (req.select) {
    units = selectUnits([...all.values()], req.select);
    if (!units.length) throw new NotFoundError(`no unit ${req.select.mod ?? '*'}/${req.select.env}/${req.select.app} in the repo at ${where}`);
  } else {
    units = [...all.values()];
  }
  if (req.hosts) await requireHostsOf(ctx, units, req.hosts);
}

/** Every IP must be a host of at least one of the units, as the inventory answers for them. */
async function requireHostsOf(ctx: AppContext, units: Unit[], ips: string[]): Promise<void> {
  const known = new Set<string>();
  const asked = new Set<string>();
  for (const u of units) {
    const query = { env: inventoryEnv(ctx.config, u.env), app: u.app };
    const key = `${query.env}\u0000${query.app}`;
    if (asked.has(key)) continue;
    asked.add(key);
    for (const h of await ctx.cmdb.resolveHosts(query, AbortSignal.timeout(30_000))) known.add(h.ip);
    if (ips.every((ip) => known.has(ip))) return;
  }
  const missing = ips.filter((ip) => !known.has(ip));
  throw new NotFoundError(`host(s) ${list(missing)} not in the inventory for ${list(units.map(unitKey))}`);
}

/** A unit named by the API's read endpoints: in the repo at the last known head, or in the records; else 404. */
export async function requireKnownUnit(ctx: AppContext, key: string): Promise<Unit> {
  const unit = parseUnitKey(key);
  const head = ctx.repo.lastKnownHead() ?? (await ctx.repo.fetch());
  if (unit && (await unitRecorded(ctx.db, key) || (await ctx.repo.listUnits(head)).some((u) => unitKey(u) === key))) return unit;
  throw new NotFoundError(`unknown unit ${key}: not in the repo at ${short(head)} and never deployed`);
}
