// The esSync config section: secrets from the environment (never printed), and where credentials may go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, parseConfig } from '../../server/src/config.js';
import { ConfigError, ValidationError } from '../../server/src/errors.js';
import { EsClients, searchEs } from '../../server/src/essync/es-client.js';
import { buildMetricsSearch } from '../../server/src/essync/query.js';
import { startFakeEs } from './fake-es.js';

test('ES credentials come from the environment; config errors never print them', () => {
  const cfg = loadConfig([], { GITFLEET_ES_USERNAME: 'gitfleet', GITFLEET_ES_PASSWORD: 'hunter2-es' });
  assert.deepEqual(cfg.esSync.auth, { username: 'gitfleet', password: 'hunter2-es' });
  assert.equal(loadConfig([], { GITFLEET_ES_API_KEY: 'a2V5' }).esSync.auth.apiKey, 'a2V5');
  assert.throws(() => loadConfig([], { GITFLEET_ES_PASSWORD: 'hunter2-es', GITFLEET_ES_API_KEY: 'a2V5', GITFLEET_ES_USERNAME: 'u' }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /esSync\.auth\.password: set either apiKey or username\/password, not both \(got \(hidden\)\)/);
    assert.doesNotMatch(err.message, /hunter2|a2V5/);
    return true;
  });
  assert.throws(() => parseConfig({ esSync: { endpoint: 'http://user:pw@es.example.com:9200' } }), /esSync\.endpoint: must be an http\(s\) URL without credentials/);
  assert.throws(() => parseConfig({ esSync: { timezone: 'Mars/Olympus' } }), /esSync\.timezone: must be an IANA time zone/);
});

test('the API key is sent as "Authorization: ApiKey"; an endpoint the config does not allow gets no client', async (t) => {
  const es = await startFakeEs({ '192.0.2.1': { cpu: [0.5], mem: [], disk: [] } });
  t.after(() => es.close());
  const cfg = parseConfig({ esSync: { endpoint: `${es.url}/`, auth: { apiKey: 'aWQ6a2V5' }, maxRetries: 0 } }).esSync;
  const clients = new EsClients(cfg);
  t.after(() => clients.close());
  const res = await searchEs(clients.get(es.url), es.url, 'metricbeat-*', buildMetricsSearch(['192.0.2.1'], '1h', cfg.fields, cfg.datasets), { timeoutSeconds: 5 });
  assert.equal((res as any).aggregations.per_host.buckets[0].key, '192.0.2.1');
  assert.equal(es.searches[0]!.headers.authorization, 'ApiKey aWQ6a2V5');
  assert.equal(es.searches[0]!.index, 'metricbeat-*');
  assert.throws(() => clients.get('http://127.0.0.1:1'), (e: unknown) => e instanceof ValidationError && e.field === 'esEndpoint');
});
