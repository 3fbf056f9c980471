/**
 * Where a node's HTTP surface listens: its public listener (HTTPS with a certificate and key,
 * plain HTTP without), with the request limits applied, and, in a mesh, a second plain listener
 * on 127.0.0.1 through which requests forwarded by members re-enter this node's app.
 *
 * Why a re-entry listener rather than calling the public one: with TLS on, the public listener
 * would make the node a TLS client of itself (trusting its own certificate, re-encrypting every
 * forwarded request on loopback) and the per-address connection cap and rate limit would count
 * the members' traffic, which their entry node already limited, against 127.0.0.1. The re-entry
 * listener is bound to loopback only, serves the same app, and its connections are marked
 * internal (limits.ts `isInternal`); the mesh edge's per-process token still decides whether a
 * request on it is a forwarded one.
 *
 * @example
 *   const pub = await listen(app, { port: 8443, host: '0.0.0.0', limits, tls: { cert, key }, logger });
 *   const reentry = await listenReentry(app, limits);   // edge.listening(reentry.url)
 *   await reentry.close(); await pub.close();
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { guardServer, type Limits, markInternal, serverOptions } from './limits.js';

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

/** The loopback re-entry listener of forwarded requests (see the module comment). */
export async function listenReentry(app: RequestListener, limits: Limits): Promise<Listening> {
  // Forwarded requests carry the client's headers plus the mesh's own two: a little more room.
  const server = createHttpServer({ ...serverOptions(limits), maxHeaderSize: limits.headerBytes + 1024 }, app);
  server.maxHeadersCount = 0; // as guardServer: bounded by the header section size
  markInternal(server);
  return started(server, 0, '127.0.0.1', (port) => `http://127.0.0.1:${port}`);
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
