// createApp(ctx): the express application — logging, webhooks (raw body, own auth), health, API behind bearer auth, errors last.
import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { AppContext } from '../context.js';
import type { AppModule } from '../module.js';
import { bearerAuth } from './middleware/auth.js';
import { apiAuth, createSessionRoutes } from '../dashboard/session.js';
import { createDashboardRoutes } from '../dashboard/static.js';
import { createDashboardApiRoutes } from '../dashboard/routes.js';
import { createEventRoutes } from '../events/sse.js';
import { errorHandler, notFound } from './middleware/error.js';
import { jsonBody } from './middleware/json-body.js';
import { createDeploymentRoutes } from './routes/deployments.js';
import { createHealthRoutes } from './routes/health.js';
import { createHostRoutes } from './routes/hosts.js';
import { createSyncRoutes } from './routes/sync.js';
import { createUnitRoutes } from './routes/units.js';
import { createWebhookRoutes } from './routes/webhooks.js';
import { createWindowRoutes } from '../windows/routes.js';

/** JSON bodies of the API at most (routes may ask for more: AppModule.apiJsonLimits). */
const API_JSON_LIMIT = 1024 * 1024;
const REQ_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

export function createApp(ctx: AppContext, modules: AppModule[] = []): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', ctx.config.server.trustProxy);
  app.use(pinoHttp({
    logger: ctx.log,
    // Request id = the sender's delivery id when there is one, so logs and GitLab's "Recent events" line up.
    genReqId: (req) => {
      for (const h of ['x-request-id', 'idempotency-key', 'x-github-delivery', 'x-gitlab-event-uuid']) {
        const v = req.headers[h];
        if (typeof v === 'string' && REQ_ID_RE.test(v)) return v;
      }
      return randomUUID();
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
  }));
  app.use(createWebhookRoutes(ctx));
  app.use(createHealthRoutes(ctx));
  for (const m of modules) if (m.publicRoutes) app.use(m.publicRoutes(ctx));

  const auth = bearerAuth(ctx.config.api.tokens);
  app.use('/sync', auth);
  app.use(createSyncRoutes(ctx));
  app.use(createDashboardRoutes());
  // Sign-in and "who am I" come before the API's auth (they are how a browser gets it).
  app.use('/api/v1', createSessionRoutes(ctx));
  const api = express.Router();
  api.use(apiAuth(ctx));
  if (ctx.live) api.use(createEventRoutes(ctx.live));
  // Routes with a larger limit parse first (the general parser then skips a parsed body); both name their limit.
  for (const m of modules) for (const l of m.apiJsonLimits?.(ctx) ?? []) api.post(l.path, jsonBody(l));
  api.use(jsonBody({ limitBytes: API_JSON_LIMIT, what: "the API's JSON body limit" }));
  api.use(createHostRoutes(ctx));
  api.use(createDeploymentRoutes(ctx));
  api.use(createUnitRoutes(ctx));
  api.use(createWindowRoutes(ctx));
  api.use(createDashboardApiRoutes(ctx));
  for (const m of modules) if (m.apiRoutes) api.use(m.apiRoutes(ctx));
  app.use('/api/v1', api);

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
