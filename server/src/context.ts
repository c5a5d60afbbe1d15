// AppContext: everything a service needs, built once at start and passed in (no module-level state).
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Db } from './db/connection.js';
import type { Metrics } from './metrics.js';
import type { CmdbProvider } from './cmdb/provider.js';
import type { InventoryEvents } from './inventory/events.js';
import type { Deployer } from './deploy/deployer.js';
import type { SshConnections } from './ssh/connections.js';
import type { ConfigRepo } from './gitops/repo.js';
import type { Launcher } from './util/launcher.js';
import type { SyncWindows } from './windows/service.js';
import type { PreviewService } from './preview/service.js';
import type { LiveBus } from './events/live-bus.js';
import type { Auth } from './auth/auth-service.js';
import type { AuditLog } from './audit/audit-log.js';
import type { ClusterNode } from './cluster/node.js';
import type { Leader } from './cluster/leader.js';
import type { Channel } from './cluster/channel.js';

export interface AppContext {
  config: Config;
  log: Logger;
  db: Db;
  clock: () => Date;
  metrics: Metrics;
  events: InventoryEvents;
  cmdb: CmdbProvider;
  ssh: SshConnections;
  launcher: Launcher;
  repo: ConfigRepo;
  deployer: Deployer;
  /** Sync windows: what blocks a unit now, held work (README "Sync windows"). */
  windows: SyncWindows;
  /** Merge-request previews (set when previews.enabled). */
  previews?: PreviewService;
  /** State changes for live views (GET /api/v1/events); optional so hand-built test contexts need not make one. */
  live?: LiveBus;
  /** Who is calling (tokens, scopes, open API): auth/auth-service.ts. */
  auth: Auth;
  /** The append-only audit log: audit/audit-log.ts. */
  audit: AuditLog;
  /** This process in a cluster (id, role, data centre): cluster/node.ts. */
  node: ClusterNode;
  /** Whether this process runs the scheduled duties (cluster/leader.ts; always on SQLite). */
  leader: Leader;
  /** Pub/sub between the processes sharing the store (LISTEN/NOTIFY on PostgreSQL, in-process on SQLite): cluster/channel.ts. */
  channel: Channel;
  /** Aborted when the server shuts down: long work checks it and stops taking more. */
  shutdown: AbortSignal;
}
