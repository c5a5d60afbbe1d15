// PURE: a V8 CPU profile (.cpuprofile) as its top self-time entries, by function and by file: where the time went.
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

/** Lines "ms  share  what", the 20 costliest functions then the 12 costliest files (`name` shortens file:// URLs). */
export function summariseProfile(p: CpuProfile, name: (fileUrl: string) => string = (u) => u): string[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i] ?? 0;
    const cf = byId.get(id);
    if (!cf) return;
    const where = cf.url.startsWith('file://') ? name(cf.url) : cf.url || '(native)';
    const f = `${cf.functionName || '(anonymous)'} ${where}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    fn.set(f, (fn.get(f) ?? 0) + us);
    const area = cf.functionName.startsWith('(') && !cf.url ? cf.functionName : where.replace(/^node_modules\/((@[^/]+\/)?[^/]+).*/, 'node_modules/$1');
    file.set(area, (file.get(area) ?? 0) + us);
    total += us;
  });
  const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([k, us]) => `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
  return [`total ${(total / 1000).toFixed(0)} ms sampled`, 'by function:', ...top(fn, 20), 'by file:', ...top(file, 12)];
}
