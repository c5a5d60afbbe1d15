// gitfleet version [--client]: the CLI's version and, unless --client, what the server says of itself (/healthz).
import { readFileSync } from 'node:fs';
import { emit, type CommandEnv } from '../command-env.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

/** The package's version: server/src/cli/commands and server/dist/cli/commands both sit four levels under the root. */
export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function versionCommand(env: CommandEnv, o: { client?: boolean }): Promise<ExitCode> {
  const client = { version: cliVersion(), node: process.version };
  const clientLine = `gitfleet CLI ${client.version} (Node ${client.node})\n`;
  if (o.client) {
    emit(env, { client }, () => clientLine);
    return EXIT.ok;
  }
  const health = await env.api.get<{ status: string; head: string | null; queue: number }>('healthz');
  const server = { url: env.api.server, status: health.status, head: health.head, queue: health.queue };
  emit(env, { client, server }, () => `${clientLine}server ${server.url}: ${server.status}, branch head ${server.head ?? 'not fetched yet'}, ${server.queue} queued\n`);
  return EXIT.ok;
}
