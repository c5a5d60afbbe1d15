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
}

/** rsync argv (no shell): content compared by checksum, removals limited to the listed files, parent dirs left alone. */
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
    '--delete-missing-args',    // listed but absent locally = removed in git = remove on the host, nothing else
    '--links', '--perms', '--checksum',
    '--itemize-changes', `--timeout=${p.ioTimeoutSeconds}`,
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
  if (p.remotePrefix) {
    if (/[\n\r\0]/.test(p.remotePrefix) || !p.remotePrefix.trimEnd().endsWith(';')) throw new Error('remotePrefix must be one command line ending with ";"');
    args.push(`--rsync-path=${p.remotePrefix} rsync`);
  }
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  args.push('-e', rsyncRemoteShell(p.sshArgs), '--', `${p.sourceDir}/`, `${p.user}@${host}:/`);
  return args;
}

export interface ItemizedChange { op: 'sent' | 'deleted' | 'attrs' | 'dir'; path: string }

/** Parse `--itemize-changes` lines: what changed on the host. */
export function parseItemized(stdout: string): ItemizedChange[] {
  const out: ItemizedChange[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('*deleting ')) { out.push({ op: 'deleted', path: line.slice(10).trim() }); continue; }
    const m = /^([<>ch.*])([fdLDS])(\S{9,10}) (.+)$/.exec(line);
    if (!m) continue;
    const [, update, type, attrs, path] = m as unknown as [string, string, string, string, string];
    if (type === 'd') { if (attrs.startsWith('+')) out.push({ op: 'dir', path }); continue; }
    out.push({ op: update === '.' ? 'attrs' : 'sent', path });
  }
  return out;
}
