// createApp(ctx): the express application — logging, the caller (actor), webhooks (raw body, own auth), health, the API
// (each route declares its scope), errors last.
import { randomUUID } from 'node:crypto';
import express, { type Express, type RequestHandler } from 'express';
import type { Actor } from '../auth/scopes.js';
import { pinoHttp } from 'pino-http';
import type { AppContext } from '../context.js';
import type { AppModule } from '../module.js';
import { actorOf, anonymousIsUnauthorized, resolveActorMiddleware } from './middleware/auth.js';
import { undeclaredRoutes } from './route-list.js';
import { createAuditRoutes } from './routes/audit.js';
import { createTokenRoutes } from './routes/tokens.js';
import { createSessionRoutes, sessionLookup } from '../dashboard/session.js';
import { createDashboardRoutes } from '../dashboard/static.js';
import { createDashboardApiRoutes } from '../dashboard/routes.js';
import { createEventRoutes } from '../events/sse.js';
import { can } from '../auth/scopes.js';
import type { WindowPolicy } from '../windows/manual-gate.js';
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
  // Every request's caller in res.locals.actor; each route then declares what it needs (middleware/auth.ts).
  app.use(resolveActorMiddleware(ctx.auth, sessionLookup(ctx)));
  app.use(createWebhookRoutes(ctx));
  app.use(createHealthRoutes(ctx));
  for (const m of modules) if (m.publicRoutes) app.use(m.publicRoutes(ctx));

  // Overriding a sync window is the admin scope's right (auth/scopes.ts 'override').
  const windowPolicy: WindowPolicy = { canOverride: (req) => !!req.res && can(actorOf(req.res), 'override') };
  app.use(createSyncRoutes(ctx, windowPolicy));
  app.use(createDashboardRoutes());
  // Sign-in and "who am I" come before the API's auth (they are how a browser gets it).
  app.use('/api/v1', createSessionRoutes(ctx));
  const api = express.Router();
  if (ctx.live) api.use(createEventRoutes(ctx.live));
  // Routes with a larger limit parse first (the general parser then skips a parsed body); both name their limit.
  // A caller without valid credentials gets no body parsed (its request ends in a 401 at the route).
  for (const m of modules) for (const l of m.apiJsonLimits?.(ctx) ?? []) api.use(l.path, onlyPost(unlessAnonymous(jsonBody(l))));
  api.use(unlessAnonymous(jsonBody({ limitBytes: API_JSON_LIMIT, what: "the API's JSON body limit" })));
  api.use(createTokenRoutes(ctx));
  api.use(createAuditRoutes(ctx));
  api.use(createHostRoutes(ctx));
  api.use(createDeploymentRoutes(ctx, windowPolicy));
  api.use(createUnitRoutes(ctx));
  api.use(createWindowRoutes(ctx));
  api.use(createDashboardApiRoutes(ctx));
  for (const m of modules) if (m.apiRoutes) api.use(m.apiRoutes(ctx));
  api.use(anonymousIsUnauthorized);
  app.use('/api/v1', api);

  app.use(notFound);
  app.use(errorHandler);
  // Fail at start, not in production: every route declares its scope, every state-changing one is audited.
  const problems = undeclaredRoutes(app);
  if (problems.length) throw new Error(`routes without a declared scope or audit:\n  ${problems.join('\n  ')}`);
  return app;
}

/** Middleware for POSTs only (a body parser mounted with use(), so it is not a route that would need a scope). */
function onlyPost(fn: RequestHandler): RequestHandler {
  return (req, res, next) => (req.method === 'POST' ? fn(req, res, next) : next());
}

function unlessAnonymous(fn: RequestHandler): RequestHandler {
  return (req, res, next) => ((res.locals.actor as Actor | undefined)?.kind === 'anonymous' ? next() : fn(req, res, next));
}
