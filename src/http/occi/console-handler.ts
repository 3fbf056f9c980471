/** `GET /compute/{id}/console`: the tail of a compute's serial console log, as text/plain (`?lines=N`, default 100). */
import type { Context } from 'openapi-backend';
import { OcciError } from '../../occi/errors.js';
import { COMPUTE } from '../../occi/infrastructure-model.js';
import type { OcciService } from '../../occi/service.js';
import type { Exchange } from './exchange.js';

export const DEFAULT_CONSOLE_LINES = 100;

export function consoleHandlers({ service }: { service: OcciService }) {
  const getComputeConsole = async (c: Context, { req, res, principal }: Exchange) => {
    if (!req.accepts('text/plain')) throw new OcciError('NOT_ACCEPTABLE', `the console is text/plain; cannot answer in ${req.get('accept')}`);
    const compute = service.get(principal, service.registry.kind(COMPUTE)!, String(c.request.params['id']));
    const { backend } = service.core;
    if (!backend.console) throw new OcciError('NOT_IMPLEMENTED', `${backend.description}: no serial console`);
    const lines = c.request.query['lines'] === undefined ? DEFAULT_CONSOLE_LINES : Number(c.request.query['lines']);
    res.status(200).setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.send(await backend.console(compute, lines));
  };
  return { getComputeConsole };
}
