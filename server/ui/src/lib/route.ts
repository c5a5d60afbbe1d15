// PURE: the dashboard's routes live in the URL hash (#/deployments/12), so the server serves one page and needs
// no fallback rules, and every view can be linked.
export type Route =
  | { page: 'overview' }
  | { page: 'deployment'; id: number }
  | { page: 'matrix' }
  | { page: 'hosts' }
  | { page: 'host'; id: number }
  | { page: 'units' }
  | { page: 'unit'; unit: string }
  | { page: 'hostSync' }
  | { page: 'esSync' }
  | { page: 'notFound' };

const SEG = /^(?!\.\.?$)[A-Za-z0-9._-]+$/;

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [a, b, c, d] = parts;
  const id = (s?: string) => (s && /^\d{1,12}$/.test(s) ? Number(s) : null);
  switch (a) {
    case undefined: return { page: 'overview' };
    case 'deployments': return id(b) ? { page: 'deployment', id: id(b)! } : { page: 'overview' };
    case 'matrix': return { page: 'matrix' };
    case 'hosts': return b === undefined ? { page: 'hosts' } : id(b) ? { page: 'host', id: id(b)! } : { page: 'notFound' };
    case 'units':
      if (b === undefined) return { page: 'units' };
      return [b, c, d].every((s) => s && SEG.test(s)) && parts.length === 4 ? { page: 'unit', unit: `${b}/${c}/${d}` } : { page: 'notFound' };
    case 'host-sync': return { page: 'hostSync' };
    case 'es-sync': return { page: 'esSync' };
    default: return { page: 'notFound' };
  }
}

export function href(r: Route): string {
  switch (r.page) {
    case 'overview': return '#/';
    case 'deployment': return `#/deployments/${r.id}`;
    case 'matrix': return '#/matrix';
    case 'hosts': return '#/hosts';
    case 'host': return `#/hosts/${r.id}`;
    case 'units': return '#/units';
    case 'unit': return `#/units/${r.unit}`;
    case 'hostSync': return '#/host-sync';
    case 'esSync': return '#/es-sync';
    case 'notFound': return '#/';
  }
}
