// CMDB provider "http": GET a URL template with {env} and {app}; the answer is a JSON list of IPs or host objects.
import { isIP } from 'node:net';
import { ConfigError, UpstreamDataError } from '../../../errors.js';
import { HOSTNAME_RE, POSIX_NAME_RE } from '../../../util/validate.js';
import { ensureOk, expandTemplate, isRecord, requestJson } from '../../http-json.js';
import type { CmdbProvider, ProviderFactory, TargetHost } from '../../provider.js';

export const id = 'http';

/** Parse the answer: `["10.0.0.1", …]`, `[{ip, hostname?, port?, user?}, …]`, or either wrapped as {hosts|items|data: [...]}. */
export function parseHostList(body: unknown, what: string): TargetHost[] {
  let list = body;
  if (isRecord(body)) list = body.hosts ?? body.items ?? body.data;
  if (!Array.isArray(list)) throw new UpstreamDataError(`${what}: expected a JSON array of hosts (or {hosts: [...]})`);
  return list.map((item, i): TargetHost => {
    if (typeof item === 'string') {
      if (isIP(item) === 0) throw new UpstreamDataError(`${what}: [${i}] is not an IP address: ${JSON.stringify(item).slice(0, 80)}`);
      return { ip: item };
    }
    if (!isRecord(item) || typeof item.ip !== 'string' || isIP(item.ip) === 0) throw new UpstreamDataError(`${what}: [${i}].ip must be an IP address`);
    const host: TargetHost = { ip: item.ip };
    if (item.hostname != null) {
      if (typeof item.hostname !== 'string' || !HOSTNAME_RE.test(item.hostname)) throw new UpstreamDataError(`${what}: [${i}].hostname is not a host name`);
      host.hostname = item.hostname;
    }
    if (item.port != null) {
      if (!Number.isInteger(item.port) || (item.port as number) < 1 || (item.port as number) > 65535) throw new UpstreamDataError(`${what}: [${i}].port must be 1-65535`);
      host.port = item.port as number;
    }
    if (item.user != null) {
      if (typeof item.user !== 'string' || !POSIX_NAME_RE.test(item.user)) throw new UpstreamDataError(`${what}: [${i}].user is not a POSIX user name`);
      host.user = item.user;
    }
    return host;
  });
}

export const create: ProviderFactory = ({ config }): CmdbProvider => {
  const c = config.inventory.http;
  if (!c.url) throw new ConfigError(['inventory.http.url: required when inventory.provider is "http"']);
  if (!/\{env\}/.test(c.url) || !/\{app\}/.test(c.url)) throw new ConfigError([`inventory.http.url: must contain {env} and {app} (got ${JSON.stringify(c.url)})`]);
  const url = c.url;
  const headers: Record<string, string> = { ...c.headers };
  if (c.authValue) headers[c.authHeader] = c.authValue;
  return {
    id,
    async resolveHosts({ env, app }, signal) {
      const what = `cmdb http (env ${env}, app ${app})`;
      const res = await requestJson(expandTemplate(url, { env, app }), { method: 'GET', headers, signal, timeoutMs: c.timeout * 1000, what });
      ensureOk(res, what);
      return parseHostList(res.body, what);
    },
  };
};
