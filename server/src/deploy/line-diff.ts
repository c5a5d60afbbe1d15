// PURE: a unified line diff (Myers' O(ND) shortest edit script), small and dependency-free: the server cannot
// take a diff package, and `git diff --no-index` would mean temp files and a process per file.

export type Edit = { op: ' ' | '-' | '+'; line: string };

/** Lines of a text; a final newline ends the last line (it does not start an empty one). */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Myers' greedy forward search with the traces kept, then the path walked back: the shortest edit script. */
export function diffLines(a: string[], b: string[]): Edit[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const off = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = max === 0;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) { x++; y++; }
      v[off + k] = x;
      if (x >= n && y >= m) { found = true; break; }
    }
    if (found) { trace.push(v); v = v.slice(); }
  }
  // Walk back from (n, m) through the saved V arrays.
  const out: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 2; d >= 0 && (x > 0 || y > 0); d--) {
    const vd = trace[d]!;
    const k = x - y;
    const down = k === -d || (k !== d && vd[off + k - 1]! < vd[off + k + 1]!);
    const pk = down ? k + 1 : k - 1;
    const px = vd[off + pk]!;
    const py = px - pk;
    while (x > px && y > py) out.push({ op: ' ', line: a[--x]! }), y--;
    if (d === 0) break;
    if (down) out.push({ op: '+', line: b[--y]! });
    else out.push({ op: '-', line: a[--x]! });
  }
  while (x > 0 && y > 0) out.push({ op: ' ', line: a[--x]! }), y--;
  return out.reverse();
}

/** A unified diff (`---`/`+++` headers, `@@` hunks with `context` lines around changes); '' when equal. */
export function unifiedDiff(oldText: string, newText: string, o: { oldName: string; newName: string; context?: number }): string {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  const edits = diffLines(a, b);
  const ctx = o.context ?? 3;
  if (!edits.some((e) => e.op !== ' ')) {
    return oldText === newText ? '' : `--- ${o.oldName}\n+++ ${o.newName}\n\\ only the final newline differs\n`;
  }
  const lines = [`--- ${o.oldName}`, `+++ ${o.newName}`];
  // Positions (in each file) before every edit, for the hunk headers.
  const pos: Array<[number, number]> = [];
  let ai = 0;
  let bi = 0;
  for (const e of edits) {
    pos.push([ai, bi]);
    if (e.op !== '+') ai++;
    if (e.op !== '-') bi++;
  }
  // Hunks: runs of changes less than 2×context unchanged lines apart, with context lines around.
  const changed = edits.flatMap((e, i) => (e.op === ' ' ? [] : [i]));
  let g = 0;
  while (g < changed.length) {
    let last = g;
    while (last + 1 < changed.length && changed[last + 1]! - changed[last]! - 1 <= 2 * ctx) last++;
    const start = Math.max(0, changed[g]! - ctx);
    const end = Math.min(edits.length, changed[last]! + 1 + ctx);
    const hunk = edits.slice(start, end);
    const [as, bs] = pos[start]!;
    const al = hunk.filter((e) => e.op !== '+').length;
    const bl = hunk.filter((e) => e.op !== '-').length;
    lines.push(`@@ -${al ? as + 1 : as},${al} +${bl ? bs + 1 : bs},${bl} @@`);
    for (const e of hunk) lines.push(`${e.op}${e.line}`);
    g = last + 1;
  }
  return `${lines.join('\n')}\n`;
}

/** Binary content: a NUL byte in the first 8000 bytes (git's rule) or not valid UTF-8. */
export function isBinary(buf: Buffer): boolean {
  if (buf.subarray(0, 8000).includes(0)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return false;
  } catch {
    return true;
  }
}
