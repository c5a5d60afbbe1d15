// PURE: a unit's rsync list split by owner/group, one rsync pass each (rsync --chown applies to a whole run).
import { attributesFor, type UnitMetadata } from './metadata.js';

/** One rsync pass: the listed paths that get this owner/group (rsync --chown applies to a whole run). */
export interface OwnerPass { owner?: string; group?: string; entries: string[] }

/**
 * PURE: the list split by owner/group — the unit-level pass first (it also carries the removals), then one
 * pass per per-path owner rule that differs from it. Each pass's rsync sets and compares exactly those
 * owners, so a rule's owner is neither undone by the next push nor reported as drift.
 */
export function ownerPasses(meta: UnitMetadata, entries: string[], unitOwner?: string, unitGroup?: string): OwnerPass[] {
  const main: OwnerPass = { owner: unitOwner, group: unitGroup, entries: [] };
  const byRule = new Map<string, OwnerPass>();
  for (const f of entries) {
    const a = attributesFor(meta, f);
    const owner = a.owner ?? unitOwner;
    const group = a.group ?? unitGroup;
    if ((owner ?? '') === (unitOwner ?? '') && (group ?? '') === (unitGroup ?? '')) { main.entries.push(f); continue; }
    const spec = `${owner ?? ''}:${group ?? ''}`;
    if (!byRule.has(spec)) byRule.set(spec, { owner, group, entries: [] });
    byRule.get(spec)!.entries.push(f);
  }
  return [main, ...byRule.values()];
}
