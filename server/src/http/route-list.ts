// Every route of the express app with what it declared (scope or public) and whether it is audited: read from the
// router itself, so a route nobody declared cannot hide (createApp refuses to build such an app; tests walk the list).
import type { Express } from 'express';
import { declarationOf, type Declaration } from './middleware/auth.js';
import { isAudited } from './middleware/audited.js';

export interface RouteInfo { method: string; path: string; declared: Declaration | undefined; audited: boolean }

interface Layer { route?: { path: string | string[]; methods: Record<string, boolean>; stack: Array<{ handle: unknown }> }; handle: { stack?: Layer[] }; rawPath?: string | string[] }

function walk(stack: Layer[], prefix: string, out: RouteInfo[]): void {
  for (const layer of stack) {
    if (layer.route) {
      const handles = layer.route.stack.map((l) => l.handle);
      const declared = handles.map(declarationOf).find((d) => d !== undefined);
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const m of Object.keys(layer.route.methods).filter((k) => layer.route!.methods[k] && k !== '_all')) {
        for (const p of paths) out.push({ method: m.toUpperCase(), path: prefix + p, declared, audited: handles.some(isAudited) });
      }
    } else if (Array.isArray(layer.handle?.stack)) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      walk(layer.handle.stack, prefix + mount, out);
    }
  }
}

export function listRoutes(app: Express): RouteInfo[] {
  const out: RouteInfo[] = [];
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '', out);
  return out;
}

/** Problems: routes with no declaration, and state-changing routes behind a scope that are not audited. */
export function undeclaredRoutes(app: Express): string[] {
  const problems: string[] = [];
  for (const r of listRoutes(app)) {
    if (!r.declared) problems.push(`${r.method} ${r.path} declares no scope (requireScope, requireSignedIn or publicRoute)`);
    else if (r.method !== 'GET' && r.method !== 'HEAD' && (r.declared.need === 'read' || r.declared.need === 'sync' || r.declared.need === 'admin') && !r.audited) {
      problems.push(`${r.method} ${r.path} changes state but is not audited (audited(ctx.audit, action) before requireScope)`);
    }
  }
  return problems;
}
