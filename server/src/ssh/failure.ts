// PURE: an rsync/ssh exit → a reason a human understands, and whether a retry may help.
export interface ExitInfo {
  exitCode: number | null;
  timedOut: boolean;
  aborted?: boolean;
  stderr: string;
}

export type FailureKind =
  | 'timeout' | 'aborted' | 'host_key_mismatch' | 'host_key_unknown' | 'auth_failed' | 'unreachable'
  | 'connection_refused' | 'connection_reset' | 'dns' | 'rsync_missing' | 'partial_transfer' | 'vanished'
  | 'protocol' | 'io_error' | 'permission_denied' | 'disk_full' | 'remote_command_failed' | 'refused' | 'unknown';

export interface Failure { kind: FailureKind; reason: string; transient: boolean }

const PATTERNS: Array<[RegExp, FailureKind, string, boolean]> = [
  [/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i, 'host_key_mismatch', 'host key mismatch: the host presented a different key than known_hosts holds', false],
  [/No (ED25519|RSA|ECDSA|[A-Z0-9]+) host key is known|Host key verification failed/i, 'host_key_unknown', 'host key verification failed: host not in known_hosts (policy strict) or key mismatch', false],
  [/Permission denied \((publickey|password|keyboard-interactive)/i, 'auth_failed', 'SSH authentication failed: the key is not authorised on the host', false],
  [/Too many authentication failures/i, 'auth_failed', 'SSH authentication failed: too many authentication failures', false],
  [/Connection refused/i, 'connection_refused', 'unreachable: connection refused (sshd not running or port closed)', true],
  [/Connection reset|Connection closed by remote host|kex_exchange_identification/i, 'connection_reset', 'connection reset by the host', true],
  [/timed out during banner exchange|banner exchange: Connection to \S+ port \d+: Connection timed out/i, 'timeout', 'timeout: no SSH banner (the host accepted the connection, sshd never answered)', false],
  // Not retried: a host that lets a connection time out holds a slot for connectTimeout again on each try.
  [/Connection timed out|Operation timed out/i, 'unreachable', 'unreachable: connection timed out', false],
  [/No route to host|Network is unreachable|Host is down/i, 'unreachable', 'unreachable: no route to host', true],
  [/Could not resolve hostname|Name or service not known/i, 'dns', 'host name could not be resolved', false],
  [/Timeout, server .* not responding|Broken pipe/i, 'connection_reset', 'connection lost: the host stopped answering keep-alives', true],
  [/rsync: (command )?not found|rsync: No such file or directory|sh: \d*:? ?rsync: not found/i, 'rsync_missing', 'rsync is not installed on the host', false],
  [/No space left on device/i, 'disk_full', 'no space left on the host', false],
  [/Permission denied \(13\)|Operation not permitted \(1\)/i, 'permission_denied', 'permission denied writing on the host (check deploy.ssh.user and owner settings)', false],
  [/invalid (user|group)|unknown (user|group)/i, 'permission_denied', 'owner/group does not exist on the host', false],
];

function fromStderr(stderr: string): Failure | undefined {
  for (const [re, kind, reason, transient] of PATTERNS) if (re.test(stderr)) return { kind, reason, transient };
  return undefined;
}

/** Classify a finished rsync run; undefined means success. */
export function classifyRsync(x: ExitInfo, timeoutSeconds?: number): Failure | undefined {
  if (x.aborted) return { kind: 'aborted', reason: 'aborted: the server is shutting down', transient: false };
  if (x.timedOut) return { kind: 'timeout', reason: `timeout: no result within ${timeoutSeconds ?? '?'} s (process group killed)`, transient: true };
  if (x.exitCode === 0) return undefined;
  const byText = fromStderr(x.stderr);
  if (byText) return byText;
  // A directory git did not put there, where git now has a file: rsync will not empty it, and neither will we.
  const dir = /(?:cannot delete non-empty directory|could not make way for new [a-z ]+): (.+)/.exec(x.stderr)?.[1]?.trim();
  if (dir) return { kind: 'refused', reason: `/${dir} is a directory holding files not managed by git, where git has a file or link: refused`, transient: false };
  switch (x.exitCode) {
    case 23: return { kind: 'partial_transfer', reason: 'partial transfer: some files could not be written on the host (rsync exit 23)', transient: false };
    case 24: return { kind: 'vanished', reason: 'partial transfer: source files vanished during the push (rsync exit 24)', transient: true };
    case 30: return { kind: 'timeout', reason: 'timeout in data send/receive (rsync exit 30)', transient: true };
    case 35: return { kind: 'timeout', reason: 'timeout waiting for the connection (rsync exit 35)', transient: true };
    case 10: return { kind: 'connection_reset', reason: 'socket I/O error (rsync exit 10)', transient: true };
    case 12: return { kind: 'protocol', reason: 'rsync protocol stream broke: the connection dropped or the remote rsync failed (exit 12)', transient: true };
    case 11: return { kind: 'io_error', reason: 'file I/O error (rsync exit 11)', transient: false };
    case 2: case 5: return { kind: 'protocol', reason: `rsync protocol error (exit ${x.exitCode})`, transient: false };
    case 127: return { kind: 'rsync_missing', reason: 'rsync is not installed (exit 127)', transient: false };
    case 255: return { kind: 'unreachable', reason: 'SSH connection failed (exit 255)', transient: true };
    default: return { kind: 'unknown', reason: `rsync exited with code ${x.exitCode}`, transient: false };
  }
}

/** Classify a finished ssh command (master open or remote command). */
export function classifySsh(x: ExitInfo, timeoutSeconds?: number): Failure | undefined {
  if (x.aborted) return { kind: 'aborted', reason: 'aborted: the server is shutting down', transient: false };
  if (x.timedOut) return { kind: 'timeout', reason: `timeout: no answer within ${timeoutSeconds ?? '?'} s`, transient: true };
  if (x.exitCode === 0) return undefined;
  if (x.exitCode === 255) return fromStderr(x.stderr) ?? { kind: 'unreachable', reason: 'SSH connection failed (exit 255)', transient: true };
  return { kind: 'remote_command_failed', reason: `remote command exited with code ${x.exitCode}`, transient: false };
}
