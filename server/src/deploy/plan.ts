// Which units a deployment covers and at which commit: for pushes, what changed since the last processed
// commit (the server's own git diff, never the payload); for syncs, the selected units at a commit.
import type { Logger } from 'pino';
import { ConflictError } from '../errors.js';
import * as rec from '../db/deployments.js';
import { changedUnits, parseUnitKey, selectUnits, type Unit, unitKey } from '../gitops/targets.js';
import { ZERO_SHA_RE } from '../util/validate.js';
import { valuesScope } from '../templating/names.js';
import type { UnitRunDeps } from './unit-run.js';
import type { PushRequest, SyncRequest } from './types.js';

export interface Plan { units: Unit[]; commit: string; before: string | null }

/** Units changed between the last processed commit and the fetched head (the server's own diff decides). */
export async function planPush(deps: Pick<UnitRunDeps, 'repo' | 'db'>, branch: string, req: PushRequest, log: Logger): Promise<Plan> {
  const { repo, db } = deps;
  const head = await repo.fetch();
  const lastSeen = await rec.getLastSeen(db, branch);
  let base: string | undefined;
  if (lastSeen && (await repo.hasCommit(lastSeen))) base = lastSeen;
  else if (req.before && !ZERO_SHA_RE.test(req.before) && (await repo.hasCommit(req.before))) base = req.before;
  if (!base) {
    log.warn({ lastSeen }, 'no known base commit: full sync of every unit');
    return { units: await repo.listUnits(head), commit: head, before: null };
  }
  if (base === head) return { units: [], commit: head, before: base };
  const [linear, changes] = await Promise.all([repo.inHistory(base, head), repo.diff(base, head)]);
  if (!linear) log.warn({ base, head }, 'history rewritten (force push): full sync of the affected units');
  // A values file outside the units (vars.yaml, secrets.yaml.age at repo, mod or env level) changes the units below it.
  const scopes = changes.flatMap((c) => [c.path, ...(c.from ? [c.from] : [])]).map(valuesScope).filter((x): x is string => x !== undefined);
  const byValues = scopes.length ? (await repo.listUnits(head)).filter((u) => scopes.some((p) => `${unitKey(u)}/`.startsWith(p))) : [];
  return { units: mergeUnits(changedUnits(changes), byValues), commit: head, before: base };
}

const mergeUnits = (a: Unit[], b: Unit[]): Unit[] =>
  [...new Map([...a, ...b].map((u) => [unitKey(u), u])).values()].sort((x, y) => unitKey(x).localeCompare(unitKey(y)));

export async function planSync(deps: Pick<UnitRunDeps, 'repo'>, req: SyncRequest): Promise<Plan> {
  // A sync names what to deploy; a head fetched in the last seconds (e.g. by /sync validating it) will do.
  const head = await deps.repo.fetch(5000);
  const commit = req.commit ?? head;
  // At an earlier commit (rollback), units that exist only now are in scope too: their files go.
  const byKey = new Map((await deps.repo.listUnits(commit)).map((u) => [unitKey(u), u]));
  if (commit !== head) for (const u of await deps.repo.listUnits(head)) if (!byKey.has(unitKey(u))) byKey.set(unitKey(u), u);
  const all = [...byKey.values()].sort((a, b) => unitKey(a).localeCompare(unitKey(b)));
  let units: Unit[];
  if (req.units) {
    units = req.units.map((k) => parseUnitKey(k)).filter((u): u is Unit => !!u);
    const present = new Set(all.map(unitKey));
    const missing = units.filter((u) => !present.has(unitKey(u)));
    // A held push that deleted a unit: releasing it deploys the unit's absence (its files go), as the push would have.
    if (missing.length && !req.releaseOf) throw new ConflictError(`unit(s) not in the repo at ${commit.slice(0, 12)}: ${missing.map(unitKey).join(', ')}`);
  } else if (req.select) {
    units = selectUnits(all, req.select);
  } else {
    units = all;
  }
  if (units.length === 0) throw new ConflictError(`no unit in the repo at ${commit.slice(0, 12)} matches ${JSON.stringify(req.select ?? req.units)}`);
  return { units, commit, before: null };
}
