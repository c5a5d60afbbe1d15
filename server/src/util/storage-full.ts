// PURE: is an error (or one of its causes) a full disk? SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100), the OS's ENOSPC / EDQUOT, or a child
// program's message saying so (git, tar).
const CODES = new Set(['SQLITE_FULL', '53100', 'ENOSPC', 'EDQUOT']);
const MESSAGE_RE = /No space left on device|database or disk is full|Disk quota exceeded/i;

export function isStorageFull(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && CODES.has(code)) return true;
    if (typeof message === 'string' && MESSAGE_RE.test(message)) return true;
  }
  return false;
}
