// The template engine and variables: strictness, refusal of anything outside the data, errors naming file,
// line and variable, determinism, precedence of values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRenderer, TemplateError } from '../../server/src/templating/engine.js';
import { hostFacts, hostVariables, mergeValues, parseValues } from '../../server/src/templating/vars.js';
import { hostPathsOf, kindOf, unitFileKinds, valuesPaths, valuesScope } from '../../server/src/templating/names.js';
import { parseMetadata } from '../../server/src/deploy/metadata.js';

const render = async (text: string, vars: Record<string, unknown>, partials: Record<string, string> = {}) => {
  const r = createRenderer(partials);
  return r.render(r.compile('nginx/prod/shop/etc/x.conf.tmpl', text), vars);
};
const fails = async (text: string, vars: Record<string, unknown>, re: RegExp, partials: Record<string, string> = {}) => {
  await assert.rejects(render(text, vars, partials), (err: unknown) => {
    assert.ok(err instanceof TemplateError, String(err));
    assert.match(err.message, re);
    return true;
  });
};

describe('template engine', () => {
  it('renders variables, loops and filters', async () => {
    const out = await render('upstream app {\n{% for s in upstreams %}  server {{ s }}:{{ port }};\n{% endfor %}}\nworkers {{ host.cpus | times: 2 }}\n',
      { upstreams: ['10.0.0.1', '10.0.0.2'], port: 8080, host: { cpus: 4 } });
    assert.equal(out, 'upstream app {\n  server 10.0.0.1:8080;\n  server 10.0.0.2:8080;\n}\nworkers 8\n');
  });

  it('an undefined variable fails with the file, the line and the variable named', async () => {
    await fails('a\nb\nlisten {{ host.idc_port }};\n', { host: { ip: '1' } }, /^template nginx\/prod\/shop\/etc\/x\.conf\.tmpl line 3: undefined variable "host\.idc_port"$/);
  });

  it('an index with a null key is named as such', async () => {
    await fails('x\n{{ m[host.idc] }}', { m: { bx: 1 }, host: { idc: null } }, /line 2: undefined variable "m\[…\]" \(looked up with an empty or null key\)$/);
  });

  it('an unknown filter and a syntax error fail with the line', async () => {
    await fails('x\n{{ a | shout }}', { a: 1 }, /line 2: undefined filter: shout/);
    await fails('{% if %}', {}, /line 1: .*invalid value expression/);
    await fails('{% for x in y %}', { y: [] }, /tag .* not closed|not closed/);
  });

  it('a failing filter fails the render', async () => {
    await fails('{{ "now" | date: "%Y" }}', {}, /date: "now" is not allowed/);
  });

  it('prototype and constructor access are refused (strict: they are undefined)', async () => {
    const vars = parseValues('vars.yaml', 'o:\n  k: 1\ns: text\n');
    for (const t of ['{{ o.constructor }}', '{{ o.__proto__ }}', '{{ s.constructor.name }}', '{{ o.toString }}', '{{ o.hasOwnProperty }}', '{{ constructor }}']) {
      await fails(t, vars, /undefined variable/);
    }
    // And a values file cannot plant such keys
    assert.throws(() => parseValues('nginx/vars.yaml', '__proto__:\n  polluted: 1\n'), /nginx\/vars\.yaml: key "__proto__" is not allowed/);
    assert.throws(() => parseValues('vars.yaml', 'a:\n  constructor: 1\n'), /key "a\.constructor" is not allowed/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('includes come only from the unit partials: no path outside, no file system', async () => {
    assert.equal(await render('{% include "upstreams" %}', { u: 'a' }, { upstreams: 'up {{ u }}' }), 'up a');
    for (const p of ['../../../etc/passwd', '/etc/passwd', '../vars.yaml', 'upstreams/../../x']) {
      await fails(`{% include "${p}" %}`, {}, /line 1: .*Failed to lookup/, { upstreams: 'x' });
      await fails(`{% render "${p}" %}`, {}, /Failed to lookup/, { upstreams: 'x' });
      await fails(`{% layout "${p}" %}x`, {}, /Failed to lookup/, { upstreams: 'x' });
    }
  });

  it('a runaway template is stopped', async () => {
    await fails('{% for i in (1..100000000) %}x{% endfor %}', {}, /limit exceeded/);
  });

  it('renders byte-identically for the same input', async () => {
    const r = createRenderer();
    const c = r.compile('t', '{% for k in m %}{{ k[0] }}={{ k[1] }}\n{% endfor %}{{ m | json }}');
    const vars = { m: { b: 2, a: 1 } };
    assert.equal(await r.render(c, vars), await r.render(c, structuredClone(vars)));
  });
});

describe('template variables', () => {
  it('values merge repo → mod → env → unit; the host file wins; host facts sit under host.', () => {
    const values = mergeValues(
      parseValues('vars.yaml', 'port: 80\nupstream: {weight: 1, servers: [a]}\n'),
      parseValues('nginx/vars.yaml', 'upstream: {weight: 2}\n'),
      parseValues('nginx/bx/vars.yaml', 'upstream: {servers: [bx1, bx2]}\n'),
      parseValues('nginx/bx/shop/.gitfleet/vars.yaml', 'port: 8080\n'),
    );
    assert.deepEqual(values, { port: 8080, upstream: { weight: 2, servers: ['bx1', 'bx2'] } });
    const v = hostVariables({
      values, unit: { env: 'bx' }, secrets: {},
      host: { ip: '10.1.0.5', hostname: 'web5', env: 'prod', apps: ['shop'], labels: { idc: 'bx', rack: 'r1' }, source: 'bkcmdb',
        facts: { collector: {}, cpu: { available: 8, cores: 8 }, memory: { totalBytes: 8 * 1048576 * 1024 }, basic: { os: { id: 'debian', versionId: '12' } } } },
      hostValues: parseValues('h.yaml', 'port: 9000\nhost:\n  idc: wgq\n', ['host']),
    });
    assert.equal(v.port, 9000);
    assert.deepEqual(v.upstream, { weight: 2, servers: ['bx1', 'bx2'] });
    const h = v.host as Record<string, unknown>;
    assert.equal(h.idc, 'wgq', 'the host file corrects a fact');
    assert.equal(h.cpus, 8);
    assert.equal(h.memory_mb, 8192);
    assert.equal(h.os, 'debian');
    assert.deepEqual(h.labels, { idc: 'bx', rack: 'r1' });
    assert.equal((h.facts as Record<string, unknown>).collector, undefined, 'collector metadata is not a fact');
  });

  it('reserved names cannot be set by values files', () => {
    for (const k of ['host', 'unit', 'secrets']) assert.throws(() => parseValues('nginx/vars.yaml', `${k}: 1\n`), new RegExp(`"${k}" is a reserved name`));
    assert.throws(() => parseValues('x.yaml', '- a\n'), /must be a mapping/);
    assert.throws(() => parseValues('x.yaml', 'a: [\n'), /^Error: x\.yaml: not valid YAML/);
  });

  it('hostFacts of a host only an external CMDB knows', () => {
    assert.deepEqual(hostFacts({ ip: '10.0.0.1' }), { ip: '10.0.0.1', hostname: null, env: null, apps: [], source: null, idc: null, labels: {}, cpus: null, memory_mb: null, os: null, os_version: null, facts: {} });
  });
});

describe('template and secret file names', () => {
  const meta = parseMetadata('templates: ["etc/app/*.ini"]\nliteral: ["opt/kit/*.tmpl", "opt/keys/*.age"]\n');
  it('maps suffixes and globs to host paths', () => {
    const t = (p: string) => { const k = kindOf(meta, p); return [k.hostPath, k.template, k.secret]; };
    assert.deepEqual(t('etc/nginx/up.conf.tmpl'), ['etc/nginx/up.conf', true, false]);
    assert.deepEqual(t('etc/app/db.conf.age'), ['etc/app/db.conf', false, true]);
    assert.deepEqual(t('etc/app/x.conf.tmpl.age'), ['etc/app/x.conf', true, true]);
    assert.deepEqual(t('etc/app/a.ini'), ['etc/app/a.ini', true, false]);
    assert.deepEqual(t('opt/kit/skeleton.tmpl'), ['opt/kit/skeleton.tmpl', false, false], 'literal');
    assert.deepEqual(t('opt/keys/k.age'), ['opt/keys/k.age', false, false], 'literal');
    assert.deepEqual(t('etc/.tmpl'), ['etc/.tmpl', false, false], 'no name left: literal');
  });
  it('two files for one host path are refused; metadata never deployed', () => {
    assert.throws(() => unitFileKinds(meta, ['etc/x.conf', 'etc/x.conf.tmpl']), /etc\/x\.conf and etc\/x\.conf\.tmpl would both be deployed as etc\/x\.conf/);
    assert.deepEqual(unitFileKinds(meta, ['.gitfleet.yaml', '.gitfleet/vars.yaml', 'a.tmpl']).map((k) => k.hostPath), ['a']);
    assert.deepEqual(hostPathsOf(meta, ['x', 'x.tmpl', '.gitfleet/hosts/1.yaml']), ['x']);
  });
  it('values files: where they are read, and which units a change redeploys', () => {
    assert.deepEqual(valuesPaths({ mod: 'nginx', env: 'bx', app: 'shop' }).vars, ['vars.yaml', 'nginx/vars.yaml', 'nginx/bx/vars.yaml', 'nginx/bx/shop/.gitfleet/vars.yaml']);
    assert.equal(valuesScope('vars.yaml'), '');
    assert.equal(valuesScope('nginx/bx/secrets.yaml.age'), 'nginx/bx/');
    assert.equal(valuesScope('nginx/bx/shop/vars.yaml'), undefined, 'inside a unit: a host file');
    assert.equal(valuesScope('nginx/README.md'), undefined);
  });
});
