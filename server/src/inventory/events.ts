// Inventory change events: emitted after a change is committed, so listeners (new-host converge) see the stored state.
import { EventEmitter } from 'node:events';
import type { Host } from '../db/hosts.js';

export interface HostChange {
  host: Host;
  /** Why it changed: 'api', 'agent', a host-sync source name, ... */
  origin: string;
  /** For updates: env/apps (and IP, when the writer knows it) before the change. */
  previous?: { env: string; apps: string[]; ip?: string };
}

interface EventMap {
  'host.added': [HostChange];
  'host.changed': [HostChange];
  'host.removed': [{ id: number; ip: string; origin: string }];
}

export class InventoryEvents extends EventEmitter<EventMap> {}
