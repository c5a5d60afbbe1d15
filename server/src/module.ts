// A feature module beside the deploy flow (host sync, ES metrics sync, agents): its routes and its lifecycle.
import type { Router } from 'express';
import type { AppContext } from './context.js';
import type { JsonBodyLimit } from './http/middleware/json-body.js';

export interface AppModule {
  readonly name: string;
  /** Routes mounted under /api/v1 (behind API auth). */
  apiRoutes?(ctx: AppContext): Router;
  /** API routes (POST, path under /api/v1) whose JSON bodies may be larger than the API's 1 MiB, parsed after auth. */
  apiJsonLimits?(ctx: AppContext): Array<{ path: string } & JsonBodyLimit>;
  /** Routes mounted at the root with their own auth (e.g. agent reports with the agent token). */
  publicRoutes?(ctx: AppContext): Router;
  /** Start schedulers/listeners after the server listens. */
  start?(ctx: AppContext): Promise<void> | void;
  /** Stop schedulers and wait for running work (bounded by the shutdown grace). */
  stop?(): Promise<void>;
}

export type ModuleFactory = () => AppModule;
