/**
 * The web console at `/ui/` (docs/console.md): static ES modules from this package (assets/) and
 * the two small libraries it runs on (lit-html, eventsource-parser) from node_modules — nothing
 * from another host, no build step. The pages get a CSP of their own: scripts, styles and calls to
 * this node only, no inline script or style, never framed. The console calls the node's public
 * API with the token its user signs in with; the assets themselves need no token.
 *
 * @example
 *   app.use(CONSOLE_PATH, consoleRoutes());   // before authentication
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';

export const CONSOLE_PATH = '/ui';
export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The console's libraries: served from their packages, by their URL under /ui/vendor/. */
const VENDOR: Record<string, { pkg: string; sub: string }> = {
  'lit-html': { pkg: 'lit-html', sub: '' },
  'eventsource-parser': { pkg: 'eventsource-parser', sub: 'dist' },
};

/** The folder of an installed package (its entry resolved, then up to its package.json). */
function packageDir(name: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(name));
  while (!(existsSync(join(dir, 'package.json')) && (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === name)) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`package ${name} not found`);
    dir = up;
  }
  return dir;
}

function consoleHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  // The same for every user: revalidated (ETag) rather than never stored.
  res.setHeader('Cache-Control', 'no-cache');
}

const onlyModules = (req: Request, res: Response, next: NextFunction): void => {
  if (/^\/[\w./-]+\.js$/.test(req.path) && !req.path.includes('..')) return next();
  res.status(404).type('text/plain').send('not found\n');
};

export function consoleRoutes(): Router {
  const router = express.Router({ strict: true });
  const statics = { index: 'index.html', dotfiles: 'ignore' as const, fallthrough: false, setHeaders: consoleHeaders };
  router.use((req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    consoleHeaders(res);
    // `/ui` → `/ui/`, so the page's relative module URLs resolve under it.
    if (req.originalUrl === CONSOLE_PATH) return res.redirect(301, `${CONSOLE_PATH}/`);
    next();
  });
  for (const [path, { pkg, sub }] of Object.entries(VENDOR)) router.use(`/vendor/${path}`, onlyModules, express.static(join(packageDir(pkg), sub), statics));
  router.use(express.static(ASSETS_DIR, statics));
  return router;
}
