// Every feature module beside the deploy flow, listed explicitly.
import type { AppModule } from './module.js';
import { createEsSyncModule } from './essync/module.js';

export function createModules(): AppModule[] {
  return [
    createEsSyncModule(),
  ];
}
