/**
 * Security headers on every response of a node: its own answers, errors, the answers it relays
 * from mesh members, and the raw 408/431/400 that `guardServer` writes on the socket.
 *
 * A table and a six-line middleware rather than `helmet`: the same header values are needed as
 * data for the answers written before express sees a request, which helmet does not expose, and
 * an API that serves no HTML needs none of helmet's other headers.
 *
 * @example
 *   app.use(securityHeaders({ hsts: true }));   // first, so that errors carry them too
 */
import type { NextFunction, Request, Response } from 'express';

const BASE: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  // Entities change under the client (state, placement) and may be another tenant's: never cached.
  'Cache-Control': 'no-store',
};

/** One year; no includeSubDomains: the node does not speak for other hosts of its domain. */
export const HSTS = 'max-age=31536000';

export const SECURITY_HEADERS = {
  plain: BASE,
  tls: { ...BASE, 'Strict-Transport-Security': HSTS } as Readonly<Record<string, string>>,
};

/** Sets the security headers (with HSTS when the node serves HTTPS) before anything answers. */
export function securityHeaders(opts: { hsts: boolean }) {
  const headers = Object.entries(opts.hsts ? SECURITY_HEADERS.tls : SECURITY_HEADERS.plain);
  return (_req: Request, res: Response, next: NextFunction): void => {
    for (const [k, v] of headers) res.setHeader(k, v);
    next();
  };
}
