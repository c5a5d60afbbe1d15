// How the CLI follows deployments: one interface; streamFeed (stream-feed.ts) follows the server's event stream and
// is what the CLI uses; pollingFeed, polling the API, stays for callers that want no stream.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeploymentView } from '../deploy/types.js';
import type { ApiClient } from './api-client.js';
import { isFinal, type ApiDeployment } from './views.js';

export interface DeploymentFeed {
  /** The deployment (with unitResults and hosts) at once and each time it changes; ends after yielding it finished. */
  follow(id: number, signal?: AbortSignal): AsyncIterable<ApiDeployment>;
  /** The newest deployments (as GET /api/v1/deployments filters them) at once and each time the list changes; until the signal aborts. */
  watchList(filter: ListFilter, signal?: AbortSignal): AsyncIterable<DeploymentView[]>;
}

export const getDeployment = (api: ApiClient, id: number): Promise<ApiDeployment> => api.get<ApiDeployment>(`api/v1/deployments/${id}`);

/** The list's query: how many, and optionally only one status or unit. */
export interface ListFilter { limit: number; status?: string; unit?: string }

export const listDeployments = (api: ApiClient, f: ListFilter): Promise<{ items: DeploymentView[]; total: number }> =>
  api.get('api/v1/deployments', { limit: String(f.limit), status: f.status, unit: f.unit });

/** The feed by polling every intervalMs; yields only what differs from the last answer. */
export function pollingFeed(api: ApiClient, intervalMs = 1000): DeploymentFeed {
  async function* changes<T>(read: () => Promise<T>, done: (v: T) => boolean, signal?: AbortSignal): AsyncIterable<T> {
    let last: string | undefined;
    for (;;) {
      if (signal?.aborted) return;
      const v = await read();
      const text = JSON.stringify(v);
      if (text !== last) {
        last = text;
        yield v;
      }
      if (done(v)) return;
      try {
        await sleep(intervalMs, undefined, { signal });
      } catch {
        return; // aborted while waiting
      }
    }
  }
  return {
    follow: (id, signal) => changes(() => getDeployment(api, id), isFinal, signal),
    watchList: (filter, signal) => changes(async () => (await listDeployments(api, filter)).items, () => false, signal),
  };
}
