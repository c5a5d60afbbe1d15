// The dashboard's built bundle (server/dist/ui, from `npm run build:ui`) under /ui/, and / redirecting there.
import { publicRoute } from '../http/middleware/auth.js';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';

/** server/dist/ui, seen from server/src/dashboard (tsx) and server/dist/dashboard (built) alike. */
export const UI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'ui');

// Same-origin only: the bundle has no inline script, and nothing may frame the dashboard (clickjacking).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

export function createDashboardRoutes(dir = UI_DIR): Router {
  const r = Router();
  const why = 'the dashboard\'s static files (the data they show comes from the API, with its scopes)';
  r.get('/', publicRoute(why), (_req, res) => res.redirect(302, '/ui/'));
  r.use('/ui', (_req, res, next) => {
    res.set({ 'content-security-policy': CSP, 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin' });
    next();
  });
  r.use('/ui', express.static(dir, {
    index: 'index.html',
    // Hashed asset names never change content: cache them for good; the page itself is always revalidated.
    setHeaders: (res, path) => res.set('cache-control', path.includes(`${join(dir, 'assets')}`) ? 'public, max-age=31536000, immutable' : 'no-cache'),
  }));
  r.get(['/ui', '/ui/'], publicRoute(why), (_req, res) => {
    const built = existsSync(join(dir, 'index.html'));
    res.status(built ? 404 : 503).type('text/plain').send(built ? 'not found' : 'the dashboard is not built: run `npm run build:ui` (scripts/setup.sh does)\n');
  });
  return r;
}
