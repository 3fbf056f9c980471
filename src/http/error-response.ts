/** Failures as OCCI errors in the requested rendering: client faults keep their code, the rest is logged as INTERNAL. */
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { OcciError } from '../occi/errors.js';
import type { Rendering } from '../occi/rendering.js';
import { ERROR_STATUS } from './error-status.js';
import type { Negotiator } from './negotiation.js';
import { send } from './occi/exchange.js';

/** Any failure as an OcciError: client faults keep their code, the rest is logged as INTERNAL. */
export function asOcciError(err: unknown, req: Request, logger: Logger): OcciError {
  if (err instanceof OcciError) return err;
  // The router decodes path segments; a malformed %-escape (`/sto%age/`) is the client's.
  if (err instanceof URIError) return OcciError.badRequest(`the path ${JSON.stringify(req.path)} is not validly percent-encoded`);
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.too.large') return new OcciError('PAYLOAD_TOO_LARGE', 'the request body is too large');
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') return new OcciError('UNSUPPORTED_MEDIA_TYPE', e.message ?? 'unsupported encoding');
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return OcciError.badRequest(e.message ?? 'bad request');
  logger.error({ err, method: req.method, path: req.path }, 'request failed');
  return new OcciError('INTERNAL', 'internal error; see the node log');
}

export function sendError(negotiator: Negotiator, req: Request, res: Response, err: OcciError): void {
  const status = ERROR_STATUS[err.code];
  let chosen: { rendering: Rendering; mediaType: string };
  try {
    chosen = negotiator.response(req, false);
  } catch {
    chosen = { rendering: negotiator.default, mediaType: negotiator.default.mediaTypes[0]! };
  }
  if (err.details.allow) res.setHeader('Allow', err.details.allow.join(', '));
  if (res.headersSent) return;
  send(res, status, chosen.mediaType, chosen.rendering.error(status, err));
}

