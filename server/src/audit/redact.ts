// PURE: request parameters as the audit log keeps them: secrets redacted (any key matching token|secret|password|key),
// long strings and lists cut, depth bounded, so a row stays small whatever was sent.
const SECRET_KEY_RE = /token|secret|password|key/i;
const MAX_STRING = 200;
const MAX_ITEMS = 20;
const MAX_DEPTH = 4;

export const REDACTED = '[redacted]';

export function redactParams(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return value;
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}… (${value.length} chars)` : value;
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) {
    const head = value.slice(0, MAX_ITEMS).map((v) => redactParams(v, depth + 1));
    return value.length > MAX_ITEMS ? [...head, `… ${value.length - MAX_ITEMS} more`] : head;
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    const entries = Object.entries(value as Record<string, unknown>);
    for (const [k, v] of entries.slice(0, MAX_ITEMS * 2)) out[k] = SECRET_KEY_RE.test(k) ? REDACTED : redactParams(v, depth + 1);
    if (entries.length > MAX_ITEMS * 2) out['…'] = `${entries.length - MAX_ITEMS * 2} more keys`;
    return out;
  }
  return String(value);
}
