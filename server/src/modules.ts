// Every feature module beside the deploy flow, listed explicitly.
import type { AppModule } from './module.js';
import { createHostSyncModule } from './hostsync/module.js';
import { createEsSyncModule } from './essync/module.js';
import { createAgentsModule } from './agents/module.js';
import { createFssyncModule } from './fssync/module.js';
import { createNotifyModule } from './notify/module.js';
import { createRetentionModule } from './retention/module.js';
import { createPreviewsModule } from './preview/module.js';
import { createSecretsModule } from './templating/module.js';
import { createAuditModule } from './audit/module.js';

export function createModules(): AppModule[] {
  return [
    createHostSyncModule(),
    createEsSyncModule(),
    createAgentsModule(),
    createFssyncModule(),
    createNotifyModule(),
    createRetentionModule(),
    createPreviewsModule(),
    createSecretsModule(),
    createAuditModule(),
  ];
}
