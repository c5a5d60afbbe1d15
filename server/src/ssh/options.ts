// PURE: OpenSSH command-line options for one host, and the rsync `-e` string built from them.
import { isIP } from 'node:net';
import { POSIX_NAME_RE } from '../util/validate.js';

export interface SshSettings {
  user: string;
  port: number;
  identityFile: string;
  knownHostsFile: string;
  hostKeyPolicy: 'strict' | 'accept-new';
  connectTimeout: number;
  kexAlgorithms?: string;
  keepAliveInterval: number;
  keepAliveCountMax: number;
}

export interface SshTarget { ip: string; port?: number | null; user?: string | null }

export interface Destination { user: string; host: string; port: number }

/** Validated user/host/port for a target: throws on anything that could be read as an option or a path. */
export function destinationOf(t: SshTarget, s: Pick<SshSettings, 'user' | 'port'>): Destination {
  if (typeof t.ip !== 'string' || isIP(t.ip) === 0) throw new Error(`not an IP address: ${JSON.stringify(t.ip)}`);
  const user = t.user ?? s.user;
  if (!POSIX_NAME_RE.test(user)) throw new Error(`not a valid SSH user: ${JSON.stringify(user)}`);
  const port = t.port ?? s.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a valid SSH port: ${JSON.stringify(port)}`);
  return { user, host: t.ip, port };
}

/** user@host as ssh and rsync take it (IPv6 in brackets for rsync). */
export function sshHost(d: Destination): string {
  return `${d.user}@${d.host}`;
}

/** Options shared by every ssh we start: no user config, batch mode, our known_hosts, our key, keep-alives. */
export function baseSshOptions(s: SshSettings, d: Destination): string[] {
  const o = (kv: string) => ['-o', kv];
  return [
    '-F', '/dev/null',
    ...o('BatchMode=yes'),
    ...o(`StrictHostKeyChecking=${s.hostKeyPolicy === 'strict' ? 'yes' : 'accept-new'}`),
    ...o(`UserKnownHostsFile=${s.knownHostsFile}`),
    ...o('GlobalKnownHostsFile=/dev/null'),
    ...o('HashKnownHosts=no'),
    ...o('CheckHostIP=no'),
    ...o(`IdentityFile=${s.identityFile}`),
    ...o('IdentitiesOnly=yes'),
    ...o(`ConnectTimeout=${s.connectTimeout}`),
    ...o(`ServerAliveInterval=${s.keepAliveInterval}`),
    ...o(`ServerAliveCountMax=${s.keepAliveCountMax}`),
    ...o('LogLevel=ERROR'),
    ...(s.kexAlgorithms ? o(`KexAlgorithms=${s.kexAlgorithms}`) : []),
    '-p', String(d.port),
  ];
}

/** Share one master per host: use the open one, or become it and stay in the background for `persistSeconds` once idle. */
export function muxOptions(controlPath: string, persistSeconds: number): string[] {
  return ['-o', 'ControlMaster=auto', '-o', `ControlPath=${controlPath}`, '-o', `ControlPersist=${persistSeconds}s`];
}

/** Options that make ssh use an already-open master (or connect directly if the master is gone). */
export function controlOptions(controlPath: string | undefined): string[] {
  return controlPath ? ['-o', 'ControlMaster=no', '-o', `ControlPath=${controlPath}`] : ['-o', 'ControlMaster=no', '-o', 'ControlPath=none'];
}

const SAFE_TOKEN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** The rsync `-e` value: rsync splits it on spaces itself (no shell), honouring single quotes. */
export function rsyncRemoteShell(sshArgs: string[]): string {
  return ['ssh', ...sshArgs].map((a) => {
    if (SAFE_TOKEN.test(a)) return a;
    if (a.includes("'")) throw new Error(`ssh argument cannot be quoted for rsync: ${JSON.stringify(a)}`);
    return `'${a}'`;
  }).join(' ');
}
