// PURE: the rsync argv for one host push, and the parse of its itemized output.
import { isIP } from 'node:net';
import { POSIX_NAME_RE } from '../util/validate.js';
import { rsyncRemoteShell } from '../ssh/options.js';

export interface RsyncPlan {
  /** Local directory whose contents mirror the host's "/" for this unit (ends without slash). */
  sourceDir: string;
  /** NUL-separated list of paths relative to sourceDir: every file of the unit plus the files git removed; "-" = stdin. */
  fileList: string;
  sshArgs: string[];
  user: string;
  host: string;
  owner?: string;
  group?: string;
  /** rsync's own I/O timeout: a stalled connection fails within it. */
  ioTimeoutSeconds: number;
  dryRun?: boolean;
  /** Absolute directory on the host that receives every file this push overwrites or removes. */
  backupDir?: string;
  /** A shell command run on the host before its rsync (in the same session): output discarded, failure ignored. */
  remotePrefix?: string;
  /** The host's rsync command (deploy.ssh.rsyncPath): a path, or e.g. `sudo rsync`. Default `rsync`. */
  rsyncPath?: string;
}

/** What deploy.ssh.rsyncPath may hold: a program and plain words (it is run by the host's shell). */
export const RSYNC_PATH_RE = /^[A-Za-z0-9_./=-]+( [A-Za-z0-9_./=-]+)*$/;

/**
 * rsync argv (no shell): content compared by checksum, parent dirs left alone, nothing removed (removals go
 * through host-prepare.ts). Changes are itemized without link targets (`%i %n`) and with names in UTF-8 as they
 * are (-8): only control characters and backslash-hash sequences come escaped (`\#ooo`, see parseItemized).
 */
export function buildRsyncArgs(p: RsyncPlan): string[] {
  if (isIP(p.host) === 0) throw new Error(`refusing to push to a non-IP host ${JSON.stringify(p.host)}`);
  if (!POSIX_NAME_RE.test(p.user)) throw new Error(`refusing SSH user ${JSON.stringify(p.user)}`);
  for (const [name, v] of [['owner', p.owner], ['group', p.group]] as const) {
    if (v !== undefined && !POSIX_NAME_RE.test(v)) throw new Error(`refusing ${name} ${JSON.stringify(v)}`);
  }
  if (!p.sourceDir.startsWith('/') || (p.fileList !== '-' && !p.fileList.startsWith('/'))) throw new Error('sourceDir and fileList must be absolute paths (or fileList "-")');
  const args = [
    '--files-from', p.fileList, '--from0',
    '--no-implied-dirs',        // never touch the attributes of /etc and friends
    '--links', '--perms', '--checksum',
    '--out-format=%i %n', '--8-bit-output', `--timeout=${p.ioTimeoutSeconds}`,
  ];
  if (p.owner || p.group) {
    if (p.owner) args.push('--owner');
    if (p.group) args.push('--group');
    args.push(`--chown=${p.owner ?? ''}:${p.group ?? ''}`);
  }
  if (p.backupDir) {
    if (!/^\/[A-Za-z0-9._~/-]+$/.test(p.backupDir) || p.backupDir.split('/').includes('..')) throw new Error(`refusing backup dir ${JSON.stringify(p.backupDir)}`);
    args.push('--backup', `--backup-dir=${p.backupDir}`);
  }
  if (p.dryRun) args.push('--dry-run');
  const rsyncPath = p.rsyncPath ?? 'rsync';
  if (!RSYNC_PATH_RE.test(rsyncPath)) throw new Error(`refusing rsync path ${JSON.stringify(rsyncPath)}`);
  if (p.remotePrefix) {
    // Newlines only inside the quoted scripts our own code puts there (host-prepare.ts checkPrefix).
    if (/[\r\0]/.test(p.remotePrefix) || !p.remotePrefix.trimEnd().endsWith(';')) throw new Error('remotePrefix must be a command ending with ";"');
    args.push(`--rsync-path=${p.remotePrefix} ${rsyncPath}`);
  } else if (rsyncPath !== 'rsync') {
    args.push(`--rsync-path=${rsyncPath}`);
  }
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  args.push('-e', rsyncRemoteShell(p.sshArgs), '--', `${p.sourceDir}/`, `${p.user}@${host}:/`);
  return args;
}

export interface ItemizedChange { op: 'sent' | 'deleted' | 'attrs' | 'dir'; path: string }

/**
 * PURE: a name as rsync printed it back to its bytes: rsync writes `\#ooo` (octal) for control characters
 * (a newline in a name among them) and for a backslash that starts such a sequence; with -8 everything else,
 * UTF-8 included, comes as it is.
 */
export function unescapeRsyncName(s: string): string {
  if (!s.includes('\\#')) return s;
  const bytes: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && raw[i + 1] === 0x23 && i + 4 < raw.length && /^[0-7]{3}$/.test(raw.subarray(i + 2, i + 5).toString('latin1'))) {
      bytes.push(parseInt(raw.subarray(i + 2, i + 5).toString('latin1'), 8));
      i += 4;
    } else bytes.push(raw[i]!);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Parse the itemized lines (`%i %n`; `*deleting` from older flags too): what changed on the host. */
export function parseItemized(stdout: string): ItemizedChange[] {
  const out: ItemizedChange[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('*deleting ')) { out.push({ op: 'deleted', path: unescapeRsyncName(line.slice(10).replace(/^ +/, '')) }); continue; }
    const m = /^([<>ch.*])([fdLDS])(\S{9,10}) (.+)$/.exec(line);
    if (!m) continue;
    const [, update, type, attrs, escaped] = m as unknown as [string, string, string, string, string];
    const path = unescapeRsyncName(type === 'd' ? escaped.replace(/\/$/, '') : escaped);
    if (type === 'd') { if (attrs.startsWith('+')) out.push({ op: 'dir', path }); continue; }
    out.push({ op: update === '.' ? 'attrs' : 'sent', path });
  }
  return out;
}
