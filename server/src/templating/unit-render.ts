// A unit's templates and secrets at a commit: values and secrets of every level read, `*.age` files decrypted
// once into the shared export, templates compiled once and rendered per host; each host's render goes to a
// staged copy shared by the hosts that render identically (host-copies.ts), so a unit whose templates depend
// only on the env renders a thousand hosts into one directory.
import { chmod, lstat, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigRepo } from '../gitops/repo.js';
import { type Unit, unitKey } from '../gitops/targets.js';
import { attributesFor, globToRegExp, type UnitMetadata } from '../deploy/metadata.js';
import { expectedState, type Expected } from '../deploy/probe.js';
import { createRenderer, type Compiled, TemplateError } from './engine.js';
import { HOST_VALUES_DIR, PARTIALS_DIR, valuesPaths, type UnitFileKind } from './names.js';
import { createRedactor, secretLeaves, type Redactor } from './redact.js';
import type { SecretBox } from './secrets.js';
import { hostVariables, mergeValues, parseValues, type HostInfo, type Values } from './vars.js';
import { createCopyStore, type HostStage, type RenderedFile } from './host-copies.js';

/** A template that names `secrets` anywhere is treated as holding one (its default mode is 0600). */
const READS_SECRETS = /\bsecrets\b/;
/** Secret files land with this mode unless a `files` rule of the metadata gives one. */
export const SECRET_MODE = 0o600;

export type { HostStage };

export interface UnitRendering {
  /** Per-host staging is needed (the unit has templates); otherwise every host reads the shared export. */
  perHost: boolean;
  /** Host paths (unit-relative) that came from `*.age` files. */
  secretFiles: string[];
  redactor: Redactor;
  /** Render for one host; rejects with a reason naming the file, line and variable (never a value). */
  forHost(host: HostInfo): Promise<HostStage>;
  /** Staged copies created so far, and hosts that reused one (for the benchmark and logs). */
  stats(): { renders: number; copies: number; reused: number };
}

/** Error text of a decrypted template: what liquidjs quotes (a variable's name, an expression) is replaced by "…". */
const unquote = (msg: string): string => msg.replace(/"[^"]*"/g, '"…"').replace(/(undefined (?:variable|filter)): \S+/g, '$1 "…"');

interface Tmpl { kind: UnitFileKind; compiled: Compiled; mode: number }

/** Read the values and secrets of every level, decrypt `*.age` files in place, compile templates. Throws on any problem (the caller fails every host with it). */
export async function prepareRendering(o: {
  repo: ConfigRepo; unit: Unit; commit: string; meta: UnitMetadata; kinds: UnitFileKind[]; all: string[];
  unitDir: string; copiesDir: string; box: () => SecretBox; inventoryEnv: string;
}): Promise<UnitRendering> {
  const { repo, unit, commit, meta, kinds, unitDir } = o;
  const key = unitKey(unit);
  const paths = valuesPaths(unit);
  const present = new Set((await repo.listTreeEntries(commit, [...paths.vars, ...paths.secrets], { recursive: false })).filter((e) => e.type === 'blob').map((e) => e.path));
  const secretValues: string[] = [];

  // Values: repo → mod → env → .gitfleet.yaml `vars:` → the unit's .gitfleet/vars.yaml.
  const layers: Values[] = [];
  for (const [i, p] of paths.vars.entries()) {
    if (i === 3 && meta.vars) layers.push(parseValues(`${key}/.gitfleet.yaml vars`, JSON.stringify(meta.vars)));
    if (present.has(p)) layers.push(parseValues(p, (await repo.readFile(commit, p)).toString('utf8')));
  }
  const secretLayers: Values[] = [];
  for (const p of paths.secrets) {
    if (!present.has(p)) continue;
    const plain = (await o.box().decrypt(p, await repo.readFile(commit, p))).toString('utf8');
    const v = parseValues(p, plain);
    secretValues.push(...secretLeaves(v));
    secretLayers.push(v);
  }
  const values = mergeValues(...layers);
  const secrets = mergeValues(...secretLayers);

  // Per-host values and partials, from the unit's own export.
  const hostValues = new Map<string, Values>();
  const partials: Record<string, string> = {};
  for (const f of o.all) {
    if (f.startsWith(HOST_VALUES_DIR) && f.endsWith('.yaml') && !f.slice(HOST_VALUES_DIR.length).includes('/')) {
      hostValues.set(f.slice(HOST_VALUES_DIR.length, -'.yaml'.length), parseValues(`${key}/${f}`, await readFile(join(unitDir, f), 'utf8'), ['host']));
    } else if (f.startsWith(PARTIALS_DIR)) {
      partials[f.slice(PARTIALS_DIR.length)] = await readFile(join(unitDir, f), 'utf8');
    }
  }

  // Secret files are decrypted once; templates are read (decrypted first when `.tmpl.age`) and compiled once.
  const renderer = createRenderer(partials);
  const templates: Tmpl[] = [];
  const secretFiles: string[] = [];
  for (const k of kinds) {
    if (!k.template && !k.secret) continue;
    const src = join(unitDir, k.source);
    const st = await lstat(src);
    if (!st.isFile()) throw new Error(`${k.source} is a symlink: a template or secret must be a regular file`);
    let data: Buffer = await readFile(src);
    if (k.secret) {
      data = await o.box().decrypt(`${key}/${k.source}`, data);
      secretFiles.push(k.hostPath);
      secretValues.push(...data.toString('utf8').split('\n').map((l) => l.trim()));
    }
    // A secret (a decrypted file, or a template that names `secrets`) ignores the unit-wide `mode`: 0600 unless
    // its own `files` rule gives one.
    const ruleMode = meta.files.find((r) => globToRegExp(r.path).test(k.hostPath))?.mode;
    const unitMode = attributesFor(meta, k.hostPath).mode;
    const secretish = k.secret || (k.template && READS_SECRETS.test(data.toString('utf8')));
    const mode = secretish ? (ruleMode ? parseInt(ruleMode, 8) : SECRET_MODE) : unitMode ? parseInt(unitMode, 8) : st.mode & 0o777;
    await rm(src);
    if (k.template) {
      let compiled: Compiled;
      try {
        compiled = renderer.compile(`${key}/${k.source}`, data.toString('utf8'));
      } catch (err) {
        // liquidjs quotes the offending text: from a decrypted template that text is secret.
        throw k.secret && err instanceof TemplateError ? new TemplateError(unquote(err.message)) : err;
      }
      templates.push({ kind: k, compiled, mode });
    } else {
      await writeFile(join(unitDir, k.hostPath), data, { mode });
      await chmod(join(unitDir, k.hostPath), mode);
    }
  }
  const redactor = createRedactor({ secretFiles, secretValues });
  const unitVars = { mod: unit.mod, env: unit.env, app: unit.app, key, inventory_env: o.inventoryEnv, commit };

  // The probe's expectations: the shared export's files are hashed once per entry list; each copy adds only its rendered files.
  const sharedExpected = new WeakMap<string[], Promise<Map<string, Expected>>>();
  const baseExpected = (entries: string[]) => {
    let e = sharedExpected.get(entries);
    if (!e) sharedExpected.set(entries, e = expectedState(unitDir, entries));
    return e;
  };
  const shared: HostStage = { dir: unitDir, renderHash: '', release: () => undefined, expected: baseExpected };
  const store = createCopyStore({
    unitDir, copiesDir: o.copiesDir, baseExpected,
    plain: kinds.filter((k) => !k.template).map((k) => k.hostPath), rendered: templates.map((t) => t.kind.hostPath),
  });
  let renders = 0;

  return {
    perHost: templates.length > 0,
    secretFiles, redactor,
    stats: () => ({ renders, ...store.stats() }),
    async forHost(host) {
      if (!templates.length) return shared;
      const vars = hostVariables({ values, unit: unitVars, host, hostValues: hostValues.get(host.ip) ?? (host.hostname ? hostValues.get(host.hostname) : undefined), secrets });
      const files: RenderedFile[] = [];
      for (const t of templates) {
        try {
          files.push({ hostPath: t.kind.hostPath, mode: t.mode, out: Buffer.from(await renderer.render(t.compiled, vars), 'utf8') });
        } catch (err) {
          // In a decrypted template even a variable's name is its text: only the line is given then.
          throw err instanceof TemplateError ? new TemplateError(redactor.mask(t.kind.secret ? unquote(err.message) : err.message)) : err;
        }
      }
      renders++;
      return store.acquire(files);
    },
  };
}
