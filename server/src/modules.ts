// Every feature module beside the deploy flow, listed explicitly.
import type { AppModule } from './module.js';

export function createModules(): AppModule[] {
  return [];
}
