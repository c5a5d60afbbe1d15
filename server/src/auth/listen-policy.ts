// PURE: secure by default. With no API token configured the API is open, which is allowed only on a loopback
// listen address, or anywhere with an explicit api.open: true (warned about at every start).
import { isIP } from 'node:net';

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x) and localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

export type ListenVerdict =
  | { start: true; open: boolean; warning?: string }
  | { start: false; problem: string };

/** May the server start on `host`, with or without configured tokens (config or live stored), and api.open? */
export function listenPolicy(host: string, tokensConfigured: boolean, apiOpen: boolean): ListenVerdict {
  if (tokensConfigured) return { start: true, open: false };
  if (isLoopbackHost(host)) return { start: true, open: true };
  if (apiOpen) return { start: true, open: true, warning: `the API is open to anyone who can reach ${host} (api.open: true and no API token configured)` };
  return {
    start: false,
    problem: `server.host is ${host}, not a loopback address, and no API token is configured: the API would be open to anyone who can reach it. ` +
      'Set api.tokens (or GITFLEET_API_TOKENS), create a token while listening on 127.0.0.1, or set api.open: true to run it open on purpose',
  };
}
