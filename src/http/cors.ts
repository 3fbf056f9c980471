/**
 * CORS for portals on other origins (`--cors-origin <origin,…>`; none by default, so browsers keep
 * every other origin out): the `cors` middleware with the origins listed exactly, credentials
 * allowed (the token travels in a header, never a cookie, but portals may send one of their own),
 * and the headers a portal must read exposed. Preflights are answered before authentication, since
 * browsers send them without the token.
 *
 * @example
 *   app.use(corsFor(['https://portal.example.org']));   // before authentication
 */
import cors from 'cors';
import type { RequestHandler } from 'express';
import { PARTIAL_HEADER } from './edge/headers.js';

/** What a portal reads of an answer beyond the CORS-safelisted headers. */
export const EXPOSED_HEADERS = ['Location', 'X-OCCI-Location', PARTIAL_HEADER, 'Link', 'WWW-Authenticate', 'Retry-After', 'Allow'];
/** What a portal may send: the token, OCCI's text rendering in headers, and the SSE reconnection id. */
export const ALLOWED_HEADERS = ['Accept', 'Content-Type', 'Authorization', 'X-Auth-Token', 'Category', 'Link', 'X-OCCI-Attribute', 'X-OCCI-Location', 'Last-Event-ID'];
/** Browsers may cache a preflight this long (s). */
const PREFLIGHT_MAX_AGE_S = 600;

/** An origin is scheme://host[:port], as browsers send it; anything else is a mistake in the flag. */
export function parseOrigins(list: string): string[] {
  const origins = list
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const o of origins) {
    const url = URL.canParse(o) ? new URL(o) : undefined;
    if (!url || url.origin !== o.replace(/\/$/, '') || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new Error(`--cors-origin: ${JSON.stringify(o)} is not an origin (scheme://host[:port])`);
  }
  return origins.map((o) => o.replace(/\/$/, ''));
}

/** The middleware for these origins; without any, it adds nothing (no CORS header at all). */
export function corsFor(origins: readonly string[]): RequestHandler | undefined {
  if (origins.length === 0) return undefined;
  const allowed = new Set(origins);
  return cors({
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: true,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_S,
    // A preflight is answered here, 204, whatever the route (the actual request is checked as usual).
    optionsSuccessStatus: 204,
  });
}
