// PURE: add, edit and delete `key=value` entries of a properties file, keeping every other line byte for byte.
//
// Parsing follows java.util.Properties where it matters for finding a key: `#`/`!` comment lines, a key ends at the
// first unescaped `=`, `:` or whitespace, and a line ending in an odd number of backslashes continues on the next.
// Values are written as given (no escaping), which is why keys and values that would change that parsing are refused.

export interface PropertiesEdit {
  /** Keys to add (appended at the end) or to edit (every entry of that key gets the value). */
  set?: Readonly<Record<string, string>>;
  /** Keys whose entries are removed (all of them, continuation lines included). */
  delete?: readonly string[];
}

export type KeyAction = 'added' | 'updated' | 'unchanged' | 'deleted' | 'absent';
export interface KeyChange { key: string; action: KeyAction }
export interface EditResult { text: string; changed: boolean; changes: KeyChange[] }

export const MAX_KEY_LENGTH = 256;
export const MAX_VALUE_LENGTH = 65_536;

/** Why a key cannot be written safely, or null when it can. */
export function keyProblem(key: unknown): string | null {
  if (typeof key !== 'string' || key.length === 0) return 'must be a non-empty string';
  if (key.length > MAX_KEY_LENGTH) return `must be at most ${MAX_KEY_LENGTH} characters`;
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'must not contain newlines or control characters';
  if (/[\s=:\\]/.test(key)) return 'must not contain whitespace, "=", ":" or "\\"';
  if (key.startsWith('#') || key.startsWith('!')) return 'must not start with "#" or "!" (that is a comment)';
  return null;
}

/** Why a value cannot be written safely, or null when it can. */
export function valueProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length > MAX_VALUE_LENGTH) return `must be at most ${MAX_VALUE_LENGTH} characters`;
  if (/[\r\n]/.test(value)) return 'must not contain newlines';
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(value)) return 'must not contain control characters';
  if (/(^|[^\\])(\\\\)*\\$/.test(value)) return 'must not end with an odd number of "\\" (it would continue onto the next line)';
  return null;
}

interface Entry {
  /** Physical lines with their line endings. */
  lines: string[];
  key: string | null;
  /** Text of the first line up to the value (key, separator and surrounding whitespace). */
  prefix: string;
  /** The raw value: the rest of the logical line, continuation lines and their breaks included. */
  value: string;
  eol: string;
}

const eolOf = (line: string) => (line.endsWith('\r\n') ? '\r\n' : line.endsWith('\n') ? '\n' : '');
const bodyOf = (line: string) => line.slice(0, line.length - eolOf(line).length);
const continues = (body: string) => /(^|[^\\])(\\\\)*\\$/.test(body);

function parseEntries(text: string): Entry[] {
  const physical = text.split(/(?<=\n)/).filter((l) => l.length > 0);
  const entries: Entry[] = [];
  for (let i = 0; i < physical.length; i++) {
    const first = physical[i]!;
    const body = bodyOf(first);
    const trimmed = body.replace(/^[ \t\f]+/, '');
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('!')) {
      entries.push({ lines: [first], key: null, prefix: '', value: '', eol: eolOf(first) });
      continue;
    }
    const lines = [first];
    while (continues(bodyOf(lines[lines.length - 1]!)) && i + 1 < physical.length) lines.push(physical[++i]!);
    const lead = body.length - trimmed.length;
    let k = 0;
    while (k < trimmed.length && !/[=:\s]/.test(trimmed[k]!)) k += trimmed[k] === '\\' ? 2 : 1;
    k = Math.min(k, trimmed.length);
    const sep = /^[ \t\f]*[=:]?[ \t\f]*/.exec(trimmed.slice(k))![0];
    const prefixLen = lead + k + sep.length;
    const logical = lines.join('');
    const eol = eolOf(lines[lines.length - 1]!);
    entries.push({ lines, key: trimmed.slice(0, k), prefix: body.slice(0, prefixLen), value: logical.slice(prefixLen, logical.length - eol.length), eol });
  }
  return entries;
}

/** Apply an edit; throws on keys/values that {@link keyProblem}/{@link valueProblem} refuse or a key both set and deleted. */
export function editProperties(text: string, edit: PropertiesEdit): EditResult {
  const set = Object.entries(edit.set ?? {});
  const del = [...new Set(edit.delete ?? [])];
  for (const [k, v] of set) {
    const kp = keyProblem(k);
    if (kp) throw new Error(`key ${JSON.stringify(k)} ${kp}`);
    const vp = valueProblem(v);
    if (vp) throw new Error(`value of ${JSON.stringify(k)} ${vp}`);
  }
  for (const k of del) {
    const kp = keyProblem(k);
    if (kp) throw new Error(`key ${JSON.stringify(k)} ${kp}`);
    if (Object.hasOwn(edit.set ?? {}, k)) throw new Error(`key ${JSON.stringify(k)} is both set and deleted`);
  }

  const entries = parseEntries(text);
  const defaultEol = /\r\n/.exec(text)?.[0] ?? '\n';
  const values = new Map(set);
  const deleting = new Set(del);
  const seen = new Map<string, boolean>(); // key → some entry's value changed
  const out: string[] = [];
  for (const e of entries) {
    if (e.key !== null && deleting.has(e.key)) {
      seen.set(e.key, true);
      continue;
    }
    if (e.key !== null && values.has(e.key)) {
      const v = values.get(e.key)!;
      const differs = e.value !== v;
      seen.set(e.key, (seen.get(e.key) ?? false) || differs);
      out.push(differs ? `${e.prefix}${v}${e.eol}` : e.lines.join(''));
      continue;
    }
    out.push(e.lines.join(''));
  }
  const changes: KeyChange[] = [];
  let appended = false;
  for (const [k, v] of set) {
    if (seen.has(k)) {
      changes.push({ key: k, action: seen.get(k) ? 'updated' : 'unchanged' });
      continue;
    }
    if (!appended && out.length > 0 && eolOf(out[out.length - 1]!) === '') out[out.length - 1] += defaultEol;
    appended = true;
    out.push(`${k}=${v}${defaultEol}`);
    changes.push({ key: k, action: 'added' });
  }
  for (const k of del) changes.push({ key: k, action: seen.has(k) ? 'deleted' : 'absent' });
  const result = out.join('');
  return { text: result, changed: result !== text, changes };
}
