// A unit's templates and secrets at a commit, staged per host: `*.age` files decrypted once into the shared
// export, templates compiled once and rendered per host; hosts whose rendered files are byte-identical share
// one staged copy (keyed by the SHA-256 of what was rendered), so a unit whose templates depend only on the env
// renders a thousand hosts into one directory. Copies are hard links of the shared export plus the rendered
// files; at most IDLE_KEEP unused copies are kept (older ones are deleted), so disk stays bounded by the
// running pushes plus that many.
import { createHash } from 'node:crypto';
import { chmodSync, linkSync, lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { chmod, lstat, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ConfigRepo } from '../gitops/repo.js';
import { type Unit, unitKey } from '../gitops/targets.js';
import { attributesFor, globToRegExp, type UnitMetadata } from '../deploy/metadata.js';
import { expectedState, type Expected } from '../deploy/probe.js';
import { createRenderer, type Compiled, TemplateError } from './engine.js';
import { HOST_VALUES_DIR, PARTIALS_DIR, valuesPaths, type UnitFileKind } from './names.js';
import { createRedactor, secretLeaves, type Redactor } from './redact.js';
import type { SecretBox } from './secrets.js';
import { hostVariables, mergeValues, parseValues, type HostInfo, type Values } from './vars.js';

export const IDLE_KEEP = 16;
/** A template that names `secrets` anywhere is treated as holding one (its default mode is 0600). */
const READS_SECRETS = /\bsecrets\b/;
/** Secret files land with this mode unless a `files` rule of the metadata gives one. */
export const SECRET_MODE = 0o600;

export interface HostStage {
  /** The directory rsync and the probe read for this host (mirrors the host's /). */
  dir: string;
  /** SHA-256 of the rendered files (hosts with the same one share `dir`). */
  renderHash: string;
  /** What each entry must be on the host, for the probe (computed once per copy and entry list). */
  expected(entries: string[]): Promise<Map<string, Expected>>;
  /** Done with this copy (it may be deleted once no push uses it). */
  release(): void;
}

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
  const plain = kinds.filter((k) => !k.template);

  const copies = new Map<string, { dir: string; users: number; ready: Promise<void>; rendered: Map<string, Expected>; expected: WeakMap<string[], Promise<Map<string, Expected>>> }>();
  // The probe's expectations: the shared export's files are hashed once per entry list; each copy adds only its rendered files.
  const sharedExpected = new WeakMap<string[], Promise<Map<string, Expected>>>();
  const baseExpected = (entries: string[]) => {
    let e = sharedExpected.get(entries);
    if (!e) sharedExpected.set(entries, e = expectedState(unitDir, entries));
    return e;
  };
  const idle: string[] = [];
  let renders = 0; let reused = 0; let made = 0;
  const shared: HostStage = {
    dir: unitDir, renderHash: '', release: () => undefined,
    expected: (entries) => expectedState(unitDir, entries),
  };

  // The shared export's entries, read once: which are links (copied as links) and which directories a copy needs.
  let layout: { files: string[]; links: Array<[string, string]>; dirs: string[] } | undefined;
  const layoutOf = () => {
    if (layout) return layout;
    const l = { files: [] as string[], links: [] as Array<[string, string]>, dirs: [] as string[] };
    const dirs = new Set<string>();
    for (const k of [...plain.map((x) => x.hostPath), ...templates.map((t) => t.kind.hostPath)]) dirs.add(dirname(k));
    for (const k of plain) {
      const st = lstatSync(join(unitDir, k.hostPath), { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isSymbolicLink()) l.links.push([k.hostPath, readlinkSync(join(unitDir, k.hostPath))]);
      else l.files.push(k.hostPath);
    }
    l.dirs = [...dirs].sort();
    return (layout = l);
  };
  // Synchronous calls in slices (yielding between them): awaiting each of ~200 link() calls cost 3× the time.
  const makeCopy = async (dir: string, rendered: Array<{ t: Tmpl; out: Buffer }>) => {
    const l = layoutOf();
    for (const d of l.dirs) mkdirSync(join(dir, d), { recursive: true });
    for (const [i, f] of l.files.entries()) {
      if (i % 64 === 63) await new Promise((r) => setImmediate(r));
      linkSync(join(unitDir, f), join(dir, f));
    }
    for (const [f, target] of l.links) symlinkSync(target, join(dir, f));
    for (const { t, out } of rendered) {
      const to = join(dir, t.kind.hostPath);
      writeFileSync(to, out, { mode: t.mode });
      chmodSync(to, t.mode);
    }
  };

  return {
    perHost: templates.length > 0,
    secretFiles, redactor,
    stats: () => ({ renders, copies: made, reused }),
    async forHost(host) {
      if (!templates.length) return shared;
      const vars = hostVariables({ values, unit: unitVars, host, hostValues: hostValues.get(host.ip) ?? (host.hostname ? hostValues.get(host.hostname) : undefined), secrets });
      const rendered: Array<{ t: Tmpl; out: Buffer }> = [];
      const h = createHash('sha256');
      for (const t of templates) {
        let out: Buffer;
        try {
          out = Buffer.from(await renderer.render(t.compiled, vars), 'utf8');
        } catch (err) {
          // In a decrypted template even a variable's name is its text: only the line is given then.
          throw err instanceof TemplateError ? new TemplateError(redactor.mask(t.kind.secret ? unquote(err.message) : err.message)) : err;
        }
        rendered.push({ t, out });
        h.update(t.kind.hostPath).update('\0').update(String(t.mode)).update('\0').update(String(out.length)).update('\0').update(out);
      }
      renders++;
      const hash = h.digest('hex');
      let c = copies.get(hash);
      if (c) {
        reused++;
        const at = idle.indexOf(hash);
        if (at >= 0) idle.splice(at, 1);
      } else {
        const dir = join(o.copiesDir, hash.slice(0, 24));
        const meta = new Map<string, Expected>(rendered.map(({ t, out }) => [t.kind.hostPath, { kind: 'file', mode: t.mode, size: out.length, md5: createHash('md5').update(out).digest('hex') }]));
        c = { dir, users: 0, ready: makeCopy(dir, rendered), rendered: meta, expected: new WeakMap() };
        copies.set(hash, c);
        made++;
      }
      c.users++;
      const copy = c;
      try {
        await copy.ready;
      } catch (err) {
        copy.users--;
        copies.delete(hash);
        await rm(copy.dir, { recursive: true, force: true });
        throw err;
      }
      let released = false;
      return {
        dir: copy.dir, renderHash: hash,
        expected: (entries) => {
          let e = copy.expected.get(entries);
          if (!e) {
            copy.expected.set(entries, e = baseExpected(entries).then((base) => {
              const out = new Map(base);
              for (const [p, x] of copy.rendered) if (out.has(p)) out.set(p, x);
              return out;
            }));
          }
          return e;
        },
        release: () => {
          if (released) return;
          released = true;
          if (--copy.users > 0) return;
          idle.push(hash);
          while (idle.length > IDLE_KEEP) {
            const old = idle.shift()!;
            const gone = copies.get(old);
            copies.delete(old);
            if (gone) rmSync(gone.dir, { recursive: true, force: true });
          }
        },
      };
    },
  };
}
