// The inventory-source plugin interface: a source lists records (uid + fields); mapping turns them into hosts.
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { BkConnectionConfig } from '../cmdb/config-schema.js';
import type { MapConfig } from './map-config.js';

/** One entry of a source's listing, normalised by the source plugin. `fields` are flat strings (nested keys joined with "."). */
export interface SourceRecord {
  /** Stable identity within the source (instance id, CMDB host id, ...). */
  uid: string;
  /** The address the inventory uses (private IP), or undefined when the source has none. */
  ip?: string;
  hostname?: string | null;
  port?: number | null;
  user?: string | null;
  fields: Record<string, string>;
}

export interface InventorySource {
  readonly type: string;
  /** The complete listing. Throws UpstreamUnavailableError / UpstreamDataError; never returns a partial list. */
  list(signal: AbortSignal): Promise<SourceRecord[]>;
  /** Optional change feed (BlueKing resource_watch): runs until the signal aborts, calling `changed` when a sync is due. */
  follow?(opts: FollowOptions): Promise<void>;
}

/** What a change feed gets from the job layer. */
export interface FollowOptions {
  signal: AbortSignal;
  log: Logger;
  /** Persisted cursor per feed resource; null clears it. */
  getCursor(resource: string): Promise<string | null>;
  setCursor(resource: string, cursor: string | null): Promise<void>;
  /** Is this uid one of the source's hosts in the inventory? */
  knownUid(uid: string): Promise<boolean>;
  /** Run the source's sync now (coalesced with a running one); resolves false when it did not succeed. */
  changed(reason: string): Promise<boolean>;
}

/**
 * What sources read of the server config: credentials shared by every aliyun source, and the inventory's
 * BlueKing connection as the default of bkcmdb sources. Only these sections (not the whole Config), so that
 * config.ts can import the host-sync schema, which lists the sources, without a circle back to it.
 */
export interface SourceSharedConfig {
  hostSync: { aliyun: { accessKeyId?: string; accessKeySecret?: string; securityToken?: string } };
  inventory: { bkcmdb: BkConnectionConfig & { bizId?: number } };
}

export interface SourceDeps {
  /** The source's name (its hosts carry it in hosts.source). */
  name: string;
  config: SourceSharedConfig;
  log: Logger;
}

/** A source type: its own config keys, how its records map by default, and the factory. */
export interface SourceType<S extends z.ZodRawShape = z.ZodRawShape> {
  readonly id: string;
  /** Type-specific config keys (beside the common ones: type, interval, cron, timeout, map, ...). */
  readonly options: S;
  readonly defaultMap: MapConfig;
  create(options: z.infer<z.ZodObject<S>>, deps: SourceDeps): InventorySource;
}
