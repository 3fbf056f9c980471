/**
 * GFD.223 at the protocol level, on every answer: the `Server` header names the OCCI version the
 * node speaks (§3.3); a client announcing in `User-Agent` an OCCI version the node does not speak
 * gets 501; a request with an `X-OCCI-Category` header (no OCCI field: categories travel in
 * `Category`) gets 400. Errors go to the app's error handler, which answers in the negotiated
 * rendering.
 *
 * @example
 *   app.use(securityHeaders({ hsts }), occiProtocol());   // before authentication: a 401 carries Server too
 */
import { createRequire } from 'node:module';
import type { NextFunction, Request, Response } from 'express';
import { OcciError } from '../occi/errors.js';

/** The version this node implements; OCCI/1.1 clients (rOCCI-cli, pOCCI) are served with the text renderings' 1.1 compatibility. */
export const OCCI_VERSION = '1.2';
const SPOKEN = new Set(['1.1', OCCI_VERSION]);

const { name, version } = createRequire(import.meta.url)('../../package.json') as { name: string; version: string };
export const SERVER_HEADER = `${name}/${version} OCCI/${OCCI_VERSION}`;

const ANNOUNCED = /(?:^|\s)OCCI\/(\d+\.\d+)(?=\s|$)/i;

/** The OCCI version a client announces in its User-Agent (`… OCCI/1.1 …`), if it announces one. */
export function clientOcciVersion(req: Request): string | undefined {
  return ANNOUNCED.exec(req.get('user-agent') ?? '')?.[1];
}

export function occiProtocol() {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('Server', SERVER_HEADER);
    const announced = clientOcciVersion(req);
    if (announced !== undefined && !SPOKEN.has(announced)) {
      next(new OcciError('NOT_IMPLEMENTED', `this node speaks OCCI/${OCCI_VERSION} (and OCCI/1.1 clients); the client announces OCCI/${announced}`));
      return;
    }
    if (req.headers['x-occi-category'] !== undefined) {
      next(OcciError.badRequest('X-OCCI-Category is not an OCCI header: send categories in Category (GFD.229)'));
      return;
    }
    next();
  };
}
