// PURE: which files of a unit are rendered or decrypted, and the path each one gets on the host. `x.tmpl` →
// `x` rendered; `x.age` → `x` decrypted; `x.tmpl.age` → `x` decrypted, then rendered; a `templates:` glob of
// the unit's metadata renders a file under its own name; a `literal:` glob keeps a file exactly as it is in git.
import { globToRegExp, isMetadataPath, type UnitMetadata } from '../deploy/metadata.js';

export const TEMPLATE_SUFFIX = '.tmpl';
export const SECRET_SUFFIX = '.age';
/** Values files outside units (repo, mod and env level) and inside (`.gitfleet/`): plain, and age-encrypted. */
export const VALUES_FILE = 'vars.yaml';
export const SECRETS_FILE = 'secrets.yaml.age';
/** Partials a template may include, inside the unit: `{% include "upstreams" %}` reads `.gitfleet/partials/upstreams`. */
export const PARTIALS_DIR = '.gitfleet/partials/';
/** Per-host values: `.gitfleet/hosts/<ip>.yaml` or `.gitfleet/hosts/<hostname>.yaml`. */
export const HOST_VALUES_DIR = '.gitfleet/hosts/';

export interface UnitFileKind {
  /** The unit-relative path in git. */
  source: string;
  /** The unit-relative path on the host. */
  hostPath: string;
  template: boolean;
  secret: boolean;
}

/** How one unit file is deployed (the metadata's `literal` wins over suffixes and `templates`). */
export function kindOf(meta: Pick<UnitMetadata, 'templates' | 'literal'>, source: string): UnitFileKind {
  const plain = { source, hostPath: source, template: false, secret: false };
  if (meta.literal.some((g) => globToRegExp(g).test(source))) return plain;
  let rest = source;
  const secret = strip(rest, SECRET_SUFFIX);
  if (secret) rest = secret;
  const tmpl = strip(rest, TEMPLATE_SUFFIX);
  if (tmpl) rest = tmpl;
  const template = !!tmpl || meta.templates.some((g) => globToRegExp(g).test(source));
  return { source, hostPath: rest, template, secret: !!secret };
}

// "a/b.tmpl" → "a/b"; a bare ".tmpl" (no name left) is an ordinary file.
const strip = (p: string, suffix: string): string | undefined => {
  if (!p.endsWith(suffix)) return undefined;
  const out = p.slice(0, -suffix.length);
  return out === '' || out.endsWith('/') ? undefined : out;
};

/**
 * The unit's deployable files with their host paths (metadata and excluded paths left out; excludes match the
 * git path). Throws when two files would land on the same host path (`x` beside `x.tmpl`).
 */
export function unitFileKinds(meta: UnitMetadata, files: string[]): UnitFileKind[] {
  const ex = meta.exclude.map(globToRegExp);
  const out: UnitFileKind[] = [];
  const seen = new Map<string, string>();
  for (const f of files) {
    if (isMetadataPath(f) || ex.some((re) => re.test(f))) continue;
    const k = kindOf(meta, f);
    const other = seen.get(k.hostPath);
    if (other !== undefined) throw new Error(`${other} and ${f} would both be deployed as ${k.hostPath}: keep one, or list one under "literal" in .gitfleet.yaml`);
    seen.set(k.hostPath, f);
    out.push(k);
  }
  return out;
}

/** Does this unit need per-host staging or decryption at all? (Most units: no, and stage as before.) */
export const needsRendering = (kinds: UnitFileKind[]): boolean => kinds.some((k) => k.template || k.secret);

/**
 * The repo paths of the values files a unit reads, lowest precedence first: repo root, mod, env, then the
 * unit's own (`.gitfleet/`). Each level has a plain `vars.yaml` and an encrypted `secrets.yaml.age`.
 */
export function valuesPaths(unit: { mod: string; env: string; app: string }): { vars: string[]; secrets: string[] } {
  const levels = ['', `${unit.mod}/`, `${unit.mod}/${unit.env}/`, `${unit.mod}/${unit.env}/${unit.app}/.gitfleet/`];
  return { vars: levels.map((l) => l + VALUES_FILE), secrets: levels.map((l) => l + SECRETS_FILE) };
}

/** Is this repo path a values file outside any unit (its change redeploys the units below it)? Returns the scope prefix. */
export function valuesScope(path: string): string | undefined {
  const parts = path.split('/');
  if (parts.length > 3) return undefined;
  const name = parts.at(-1);
  if (name !== VALUES_FILE && name !== SECRETS_FILE) return undefined;
  return parts.slice(0, -1).map((p) => `${p}/`).join('');
}

/** Host paths of a unit's files without the collision check (an old commit's list, for removals). */
export function hostPathsOf(meta: UnitMetadata, files: string[]): string[] {
  const ex = meta.exclude.map(globToRegExp);
  return [...new Set(files.filter((f) => !isMetadataPath(f) && !ex.some((re) => re.test(f))).map((f) => kindOf(meta, f).hostPath))];
}
