// The CMDB provider interface: who answers "which hosts run env/app?" for the deploy path.
import type { Logger } from 'pino';
import type { Db } from '../db/connection.js';
import type { Config } from '../config.js';

/** A host as the deploy path needs it. `port`/`user` are per-host overrides of the SSH defaults. */
export interface TargetHost {
  ip: string;
  hostname?: string | null;
  port?: number | null;
  user?: string | null;
}

export interface HostQuery {
  /** The inventory env (after alias mapping). */
  env: string;
  app: string;
}

export interface CmdbProvider {
  readonly id: string;
  /** Hosts for env/app. Throws UpstreamUnavailableError / UpstreamDataError when it cannot answer; [] means "no hosts". */
  resolveHosts(query: HostQuery, signal?: AbortSignal): Promise<TargetHost[]>;
  /** Forget cached answers (an inventory change must be seen by the next lookup, e.g. new-host converge). */
  invalidate?(): void;
}

export interface ProviderDeps { config: Config; db: Db; log: Logger }

export type ProviderFactory = (deps: ProviderDeps) => CmdbProvider;
