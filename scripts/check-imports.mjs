// Checks the import graph of our TypeScript (run by `npm test`; `npm run check:imports` alone):
//  1. no import circles in server/, scripts/ and agents/, type-only imports included (a circle over types still
//     ties two modules together: neither can move or be read alone);
//  2. the service (server/src) imports at run time only node: built-ins and packages of "dependencies", never a
//     devDependency (type-only imports are erased by the compiler and do not count).
// TypeScript's own parser finds the imports, so no regex misses a multi-line or dynamic import.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const SCAN = ['server/src', 'scripts', 'agents'];
const EXT = /\.(ts|mts|mjs|js)$/;

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'dist') continue;
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (EXT.test(name) && !name.endsWith('.d.ts') && !name.endsWith('.d.mts')) out.push(p);
  }
  return out;
}

/** A relative specifier as NodeNext resolves it for our sources: `./x.js` is `./x.ts` when that exists. */
function resolveLocal(from, spec) {
  const base = resolve(dirname(from), spec);
  const candidates = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

const specifiers = (text) => ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);

const files = SCAN.flatMap((d) => walk(join(ROOT, d)));
const graph = new Map();
for (const file of files) {
  const deps = specifiers(readFileSync(file, 'utf8')).filter((s) => s.startsWith('.')).map((s) => resolveLocal(file, s)).filter(Boolean);
  graph.set(file, [...new Set(deps)]);
}

// Tarjan's strongly connected components: every component of more than one file (or a self-import) is a circle.
function circles() {
  let index = 0;
  const idx = new Map(), low = new Map(), stack = [], on = new Set(), found = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++; stack.push(v); on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); on.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(comp);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

/** One concrete circle inside a component, for the message: a path from its first file back to itself. */
function examplePath(comp) {
  const inComp = new Set(comp);
  const start = comp[0];
  const prev = new Map([[start, null]]);
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!inComp.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let x = v; x !== start; x = prev.get(x)) path.splice(1, 0, x);
        return [...path, start];
      }
      if (!prev.has(w)) { prev.set(w, v); queue.push(w); }
    }
  }
  return comp;
}

const problems = [];
for (const comp of circles()) {
  problems.push(`import circle (${comp.length} files): ${examplePath(comp).map((f) => relative(ROOT, f)).join(' -> ')}`);
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const prodDeps = new Set(Object.keys(pkg.dependencies ?? {}));
const builtins = new Set(builtinModules);
const packageName = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
for (const file of files.filter((f) => f.startsWith(join(ROOT, 'server/src')))) {
  // What the compiler emits: imports used only as types are gone.
  const emitted = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.NodeNext, target: ts.ScriptTarget.ES2022 }, fileName: file }).outputText;
  for (const spec of specifiers(emitted)) {
    if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
    const name = packageName(spec);
    if (!prodDeps.has(name)) problems.push(`${relative(ROOT, file)} imports "${spec}" at run time, which is not in "dependencies"`);
  }
}

if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(`check-imports: ${files.length} files, no import circles; the service imports only dependencies and built-ins`);
