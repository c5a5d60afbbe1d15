// What every CLI command gets: resolved settings, the API client, the deployment feed, the terminal, a stop signal.
import type { ApiClient } from './api-client.js';
import type { DeploymentFeed } from './feed.js';
import type { Io } from './io.js';
import type { Settings } from './settings.js';
import { CliError, EXIT } from './exit-codes.js';
import { isFinal, progressLine, type ApiDeployment } from './views.js';

export interface CommandEnv {
  settings: Settings;
  api: ApiClient;
  feed: DeploymentFeed;
  io: Io;
  /** Recorded as the deployment's actor: "cli:<login name>". */
  actor: string;
  /** Aborted on SIGINT (watch ends cleanly). */
  signal: AbortSignal;
}

/** The result on stdout: one JSON document (--output json) or the table text. */
export function emit(env: CommandEnv, json: unknown, text: () => string): void {
  env.io.out(env.settings.output === 'json' ? JSON.stringify(json, null, 2) + '\n' : text());
}

/** Follow a deployment until it has finished, showing its progress on a terminal; returns it finished. */
export async function followToEnd(env: CommandEnv, id: number): Promise<ApiDeployment> {
  let last: ApiDeployment | undefined;
  try {
    for await (const d of env.feed.follow(id, env.signal)) {
      last = d;
      env.io.progress(progressLine(d));
    }
  } catch (err) {
    if (!env.signal.aborted) throw err; // Ctrl-C during a request: said below, as between requests
  } finally {
    env.io.endProgress();
  }
  if (!last || !isFinal(last)) throw new CliError(EXIT.cancelled, `stopped following deployment ${id} before it finished`, `it goes on on the server: gitfleet deployment ${id} --wait`);
  return last;
}
