/**
 * Where Prometheus scrapes a node: `GET /metrics` on the public listener with an admin token, or
 * `--metrics-port` — a listener of its own that serves only `/metrics`, without a token, on
 * `--metrics-host` (loopback by default: put it on a private interface, never a public one).
 *
 * @example
 *   api.register(metricsHandlers(metrics));
 *   const scrape = await listenMetrics(metrics, { port: 9464, host: '127.0.0.1', limits });
 */
import type { Request, Response } from 'express';
import express from 'express';
import { OcciError } from '../occi/errors.js';
import type { Principal } from '../occi/request.js';
import type { Limits } from './limits.js';
import { type Listening, listen } from './listener.js';
import type { NodeMetrics } from './metrics.js';
import { securityHeaders } from './security-headers.js';

export const METRICS_PATH = '/metrics';

async function scrape(metrics: NodeMetrics, res: Response): Promise<void> {
  const text = await metrics.registry.metrics();
  res.status(200).setHeader('Content-Type', metrics.registry.contentType);
  res.send(text);
}

export function metricsHandlers(metrics: NodeMetrics | undefined) {
  return {
    getMetrics: async (_c: unknown, { res, principal }: { req: Request; res: Response; principal: Principal }) => {
      if (!principal.admin) throw new OcciError('FORBIDDEN', 'only an admin token may read the metrics (or scrape the --metrics-port listener)');
      if (!metrics) throw OcciError.notFound(METRICS_PATH);
      await scrape(metrics, res);
    },
  };
}

/** The scrape-only listener: `/metrics` and nothing else. */
export async function listenMetrics(metrics: NodeMetrics, opts: { port: number; host: string; limits: Limits }): Promise<Listening> {
  const app = express();
  app.disable('x-powered-by');
  app.use(securityHeaders({ hsts: false }));
  app.get(METRICS_PATH, (_req, res, next) => void scrape(metrics, res).catch(next));
  app.use((_req: Request, res: Response) => void res.status(404).type('text/plain').send(`only ${METRICS_PATH} is served here\n`));
  return listen(app, { port: opts.port, host: opts.host, limits: opts.limits });
}
