/**
 * Where a node's HTTP surface listens: its public listener (HTTPS with a certificate and key,
 * plain HTTP without), with the request limits applied. Requests that members forward are not
 * re-sent to a listener: they are dispatched in-process (src/http/edge/in-process-dispatch.ts).
 *
 * @example
 *   const pub = await listen(app, { port: 8443, host: '0.0.0.0', limits, tls: { cert, key }, logger });
 *   await pub.close();
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { guardServer, type Limits, serverOptions } from './limits.js';

export interface TlsMaterial {
  /** PEM certificate chain. */
  cert: Buffer | string;
  /** PEM private key. */
  key: Buffer | string;
}

export interface Listening {
  server: HttpServer | HttpsServer;
  url: string;
  port: number;
  /** Closes every connection and the listener; safe to call twice. */
  close(): Promise<void>;
}

export async function listen(app: RequestListener, opts: { port: number; host: string; limits: Limits; tls?: TlsMaterial; logger?: Logger }): Promise<Listening> {
  const options = serverOptions(opts.limits);
  const server = opts.tls ? createHttpsServer({ ...options, cert: opts.tls.cert, key: opts.tls.key }, app) : createHttpServer(options, app);
  guardServer(server, opts.limits, { hsts: !!opts.tls, logger: opts.logger });
  const host = opts.host && opts.host !== '0.0.0.0' && opts.host !== '::' ? opts.host : '127.0.0.1';
  return started(server, opts.port, opts.host, (port) => `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`);
}

async function started(server: HttpServer | HttpsServer, port: number, host: string, url: (port: number) => string): Promise<Listening> {
  server.listen(port, host);
  await once(server, 'listening'); // rejects on 'error' (port in use…)
  const bound = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    server,
    url: url(bound),
    port: bound,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}

/** The PEM files of `--tls-cert` and `--tls-key`: both or neither. */
export function readTlsFiles(certFile: string | undefined, keyFile: string | undefined): TlsMaterial | undefined {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new Error('TLS needs both a certificate (--tls-cert) and its key (--tls-key)');
  return { cert: readFileSync(certFile), key: readFileSync(keyFile) };
}
