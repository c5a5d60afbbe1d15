// The fssync parity module: file listing and download (GET /getfile, /api/v1/units/.../files|file) and /modify.
import type { AppContext } from '../context.js';
import type { AppModule } from '../module.js';
import { ModifyService, type ModifyHooks } from './modify-service.js';
import { createFssyncApiRoutes, createFssyncRootRoutes, type FssyncServices } from './routes.js';
import { UnitFiles } from './unit-files.js';

/** The module; `hooks` are test seams of the modify service. */
export function createFssyncModule(opts: { hooks?: ModifyHooks } = {}): AppModule {
  let services: FssyncServices | null = null;
  const of = (ctx: AppContext): FssyncServices => (services ??= {
    files: new UnitFiles(ctx),
    modify: ctx.config.modify.enabled ? new ModifyService(ctx, opts.hooks) : null,
  });
  return {
    name: 'fssync',
    publicRoutes: (ctx) => createFssyncRootRoutes(ctx, of(ctx)),
    apiRoutes: (ctx) => createFssyncApiRoutes(ctx, of(ctx)),
  };
}
