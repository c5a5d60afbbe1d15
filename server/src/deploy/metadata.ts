// PURE: a unit's optional metadata file (<mod>/<env>/<app>/.gitfleet.yaml): owner/group/modes per glob,
// excludes, hooks, rollout, deletion limits, self-heal. Never pushed to hosts.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { POSIX_NAME_RE } from '../util/validate.js';

export const METADATA_FILE = '.gitfleet.yaml';
/** A folder of the unit reserved for gitfleet's own metadata (like the file above: never a host path). */
export const METADATA_DIR = '.gitfleet';

/** Is this unit-relative path gitfleet metadata rather than a file for the hosts? */
export function isMetadataPath(path: string): boolean {
  return path === METADATA_FILE || path === METADATA_DIR || path.startsWith(`${METADATA_DIR}/`);
}

const posixName = z.string().regex(POSIX_NAME_RE, 'must be a POSIX user/group name');
const mode = z.string().regex(/^0?[0-7]{3}$/, 'must be an octal mode like "0644"');
const SHARE_RE = /^\d{1,3}(\.\d+)?%$/;
const share = (min: 'zero' | 'positive') => z.string().superRefine((v, ctx) => {
  const pct = SHARE_RE.test(v) ? Number(v.slice(0, -1)) : NaN;
  const why = Number.isNaN(pct) ? 'must be a count or a percentage like "10%"'
    : pct > 100 ? 'a percentage must be at most 100%'
    : min === 'positive' && pct === 0 ? 'must be more than 0%' : null;
  if (why) ctx.addIssue({ code: 'custom', message: why });
});
/** A host count or a share of the unit's hosts (0 allowed: no canary, no failures tolerated). */
const countOrShare = z.union([z.number().int().min(0), share('zero')]);
/** A batch holds at least one host: 0 or "0%" would never finish a rollout. */
const positiveCountOrShare = z.union([z.number().int().min(1, 'must be at least 1'), share('positive')]);
const glob = z.string().min(1).max(512).refine((g) => !g.startsWith('/') && !g.split('/').includes('..'), 'must be relative, without ".."');
const command = z.string().min(1).max(4096).refine((c) => !c.includes('\0'), 'must not contain NUL');

export const metadataSchema = z.strictObject({
  owner: posixName.optional(),
  group: posixName.optional(),
  mode: mode.optional(),
  files: z.array(z.strictObject({ path: glob, owner: posixName.optional(), group: posixName.optional(), mode: mode.optional() })).max(200).default([]),
  exclude: z.array(glob).max(200).default([]),
  hooks: z.strictObject({
    validate: command.optional(),
    reload: command.optional(),
    timeout: z.number().int().min(1).max(3600).default(60),
  }).prefault({}),
  rollout: z.strictObject({
    canary: countOrShare.optional(),
    batchSize: positiveCountOrShare.optional(),
    bakeSeconds: z.number().min(0).max(86_400).default(0),
    maxFailures: countOrShare.default(0),
    skipUnreachable: z.boolean().default(false),
  }).optional(),
  deletion: z.strictObject({ maxFiles: z.number().int().min(0).optional(), maxPercent: z.number().min(0).max(100).optional() }).optional(),
  selfHeal: z.boolean().optional(),
  /** Rendered per host under their own name (besides every `*.tmpl`; README "Templates and secrets"). */
  templates: z.array(glob).max(200).default([]),
  /** Kept exactly as in git: a file that really ends in `.tmpl` or `.age`. */
  literal: z.array(glob).max(200).default([]),
  /** The unit's own template values (over the repo, mod and env `vars.yaml`). */
  vars: z.record(z.string(), z.unknown()).optional(),
});

export type UnitMetadata = z.infer<typeof metadataSchema>;

export const EMPTY_METADATA: UnitMetadata = metadataSchema.parse({});

/** Parse the metadata file text; throws an Error naming the key for anything invalid. */
export function parseMetadata(text: string | undefined): UnitMetadata {
  if (text === undefined || text.trim() === '') return EMPTY_METADATA;
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new Error(`${METADATA_FILE}: not valid YAML: ${(err as Error).message}`);
  }
  const r = metadataSchema.safeParse(raw ?? {});
  if (!r.success) throw new Error(`${METADATA_FILE}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** Glob → RegExp: `**` any path (also empty), `*` within one segment, `?` one character. */
export function globToRegExp(g: string): RegExp {
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*' && g[i + 1] === '*') {
      if (g[i + 2] === '/') { re += '(?:.*/)?'; i += 2; } else { re += '.*'; i += 1; }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export interface FileAttrs { owner?: string; group?: string; mode?: string }

/** Attributes per file: the first matching `files` rule, over the unit defaults. */
export function attributesFor(meta: UnitMetadata, path: string): FileAttrs {
  const rule = meta.files.find((r) => globToRegExp(r.path).test(path));
  return { owner: rule?.owner ?? meta.owner, group: rule?.group ?? meta.group, mode: rule?.mode ?? meta.mode };
}

/** The unit's deployable files: metadata (the file and the reserved folder) and excluded paths are never pushed. */
export function deployableFiles(meta: UnitMetadata, files: string[]): string[] {
  const ex = meta.exclude.map(globToRegExp);
  return files.filter((f) => !isMetadataPath(f) && !ex.some((re) => re.test(f)));
}

/** Resolve a count-or-share against a total ("10%" of 30 → 3, at least 1 when the share is > 0). */
export function resolveShare(v: number | string | undefined, total: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  const pct = Number(v.slice(0, -1));
  return pct === 0 ? 0 : Math.max(1, Math.ceil((pct / 100) * total));
}
