// Where the CLI's server URL, token, output format and timeout come from: flags > environment > config file > defaults.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CliError, EXIT } from './exit-codes.js';

export type OutputFormat = 'table' | 'json';

export interface Settings {
  server: string;
  token?: string;
  output: OutputFormat;
  timeoutMs: number;
  /** Where each value came from, for error hints ("token from the config file ..."). */
  sources: { server: string; token?: string };
}

/** The global flags as commander parsed them (strings, unvalidated). */
export interface GlobalFlags { server?: string; token?: string; output?: string; config?: string; timeout?: string }

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';
const DEFAULT_TIMEOUT_S = 30;

const fileSchema = z.strictObject({
  server: z.string().optional(),
  token: z.string().min(1).optional(),
  output: z.enum(['table', 'json']).optional(),
  timeout: z.number().positive().max(3600).optional(),
});
type FileSettings = z.infer<typeof fileSchema>;

/** ~/.config/gitfleet/cli.yaml, or under $XDG_CONFIG_HOME when that is set. */
export function defaultConfigPath(env: NodeJS.ProcessEnv, home: string): string {
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'gitfleet', 'cli.yaml');
}

async function readConfigFile(path: string, explicit: boolean): Promise<FileSettings> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    // The default file is optional; a file named with --config must exist.
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(EXIT.usage, `cannot read config file ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new CliError(EXIT.usage, `config file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  const r = fileSchema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
    throw new CliError(EXIT.usage, `config file ${path}: ${problems} (keys: server, token, output, timeout)`);
  }
  return r.data;
}

/** A server URL as the client uses it: http(s), no query, ending in "/" so API paths join under any prefix. */
export function normalizeServer(raw: string, from: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliError(EXIT.usage, `server ${JSON.stringify(raw)} (from ${from}) is not a URL; give e.g. http://gitfleet.example.com:8080`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliError(EXIT.usage, `server ${JSON.stringify(raw)} (from ${from}) must be an http:// or https:// URL`);
  if (u.search || u.hash) throw new CliError(EXIT.usage, `server ${JSON.stringify(raw)} (from ${from}) must not carry a query or fragment`);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.toString();
}

/** Resolve the settings of one invocation: each value from the first of flags, environment, config file, default. */
export async function resolveSettings(flags: GlobalFlags, env: NodeJS.ProcessEnv, home: string): Promise<Settings> {
  const configPath = flags.config ?? defaultConfigPath(env, home);
  const file = await readConfigFile(configPath, flags.config !== undefined);
  const fileLabel = `config file ${configPath}`;

  const pick = <T>(...c: Array<[T | undefined, string]>): [T, string] | undefined => c.find(([v]) => v !== undefined && v !== '') as [T, string] | undefined;
  const server = pick<string>([flags.server, '--server'], [env.GITFLEET_SERVER, 'GITFLEET_SERVER'], [file.server, fileLabel]) ?? [DEFAULT_SERVER, 'the default'];
  const token = pick<string>([flags.token, '--token'], [env.GITFLEET_TOKEN, 'GITFLEET_TOKEN'], [file.token, fileLabel]);

  let output: OutputFormat = file.output ?? 'table';
  if (flags.output !== undefined) {
    if (flags.output !== 'table' && flags.output !== 'json') throw new CliError(EXIT.usage, `--output must be table or json; got ${JSON.stringify(flags.output)}`);
    output = flags.output;
  }
  let timeoutS = file.timeout ?? DEFAULT_TIMEOUT_S;
  if (flags.timeout !== undefined) {
    const t = Number(flags.timeout);
    if (!Number.isFinite(t) || t <= 0 || t > 3600) throw new CliError(EXIT.usage, `--timeout must be a number of seconds in (0, 3600]; got ${JSON.stringify(flags.timeout)}`);
    timeoutS = t;
  }
  return {
    server: normalizeServer(server[0], server[1]),
    ...(token ? { token: token[0] } : {}),
    output,
    timeoutMs: Math.round(timeoutS * 1000),
    sources: { server: server[1], ...(token ? { token: token[1] } : {}) },
  };
}
