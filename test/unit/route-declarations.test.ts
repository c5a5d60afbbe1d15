// The guard createApp runs: a route that declares no scope, or changes state without an audit row, is named;
// the config keys of tokens and audit are validated.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import express, { Router } from 'express';
import { parseConfig } from '../../server/src/config.js';
import { ConfigError } from '../../server/src/errors.js';
import { publicRoute, requireScope } from '../../server/src/http/middleware/auth.js';
import { audited } from '../../server/src/http/middleware/audited.js';
import { listRoutes, undeclaredRoutes } from '../../server/src/http/route-list.js';

it('names undeclared routes and unaudited state-changing ones, with their mount path', () => {
  const audit = { record: async () => undefined } as never;
  const app = express();
  const api = Router();
  api.get('/a', requireScope('read'), (_req, res) => { res.end(); });
  api.get('/b', (_req, res) => { res.end(); });
  api.post('/c', requireScope('admin'), (_req, res) => { res.end(); });
  api.post('/d', audited(audit, 'd'), requireScope('admin'), (_req, res) => { res.end(); });
  app.use('/api/v1', api);
  app.post('/hook', publicRoute('own auth'), (_req, res) => { res.end(); });
  assert.deepEqual(listRoutes(app).map((r) => [r.method, r.path, r.declared?.need, r.audited]), [
    ['GET', '/api/v1/a', 'read', false], ['GET', '/api/v1/b', undefined, false], ['POST', '/api/v1/c', 'admin', false],
    ['POST', '/api/v1/d', 'admin', true], ['POST', '/hook', 'public', false],
  ]);
  assert.deepEqual(undeclaredRoutes(app), [
    'GET /api/v1/b declares no scope (requireScope, requireSignedIn or publicRoute)',
    'POST /api/v1/c changes state but is not audited (audited(ctx.audit, action) before requireScope)',
  ]);
});

it('validates api.open and audit.retentionDays', () => {
  const c = parseConfig({});
  assert.deepEqual([c.api.open, c.audit.retentionDays], [false, 365]);
  assert.throws(() => parseConfig({ api: { open: 'yes' }, audit: { retentionDays: -1, keep: 1 } }), (err: ConfigError) => {
    assert.deepEqual(err.problems.map((p) => p.split(':')[0]).sort(), ['api.open', 'audit', 'audit.retentionDays']);
    return true;
  });
});
