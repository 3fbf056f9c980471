/** Helpers of the limits, slowloris, TLS, headers and audit suites (raw sockets, node:http calls). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { StateOnlyBackend } from '../../src/occi/backend.js';
import { type NodeOptions, type RunningNode, startNode } from '../../src/node.js';

export interface LimitedNode extends RunningNode {
  dataDir: string;
  dispose(): Promise<void>;
}

/** A state-only node on an ephemeral port, silent, without authentication unless `auth` says. */
export async function startLimitedNode(opts: Partial<NodeOptions> = {}): Promise<LimitedNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'occi-limits-'));
  const node = await startNode({ port: 0, dataDir, backend: new StateOnlyBackend(), logger: pino({ level: 'silent' }), auth: 'none', printAdminToken: false, ...opts });
  return {
    ...node,
    dataDir,
    dispose: async () => {
      await node.close();
      if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request with node:http(s), from a chosen local address, trusting `ca` for https. */
export function call(
  url: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string | string[]>; body?: string; localAddress?: string; ca?: Buffer | string } = {},
): Promise<RawAnswer> {
  const u = new URL(path, url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      { method: opts.method ?? 'GET', headers: { Accept: 'application/occi+json', ...opts.headers }, localAddress: opts.localAddress, ca: opts.ca, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A raw TCP connection to the node, from `localAddress` (any 127.0.0.0/8 address on Linux). */
export async function rawSocket(url: string, localAddress = '127.0.0.1'): Promise<Socket> {
  const u = new URL(url);
  const socket = connect({ host: u.hostname, port: Number(u.port), localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Sends a raw request text and resolves with everything the server sent until it closed. */
export async function rawExchange(url: string, text: string): Promise<string> {
  const socket = await rawSocket(url);
  return new Promise((resolve) => {
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (got += d));
    socket.on('error', () => undefined); // a reset after the answer: what was received counts
    socket.on('close', () => resolve(got));
    socket.end(text);
  });
}

const FIXTURE = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made by openssl at test time; the
 * committed fixture (test/fixtures/tls/, valid 20 years) when openssl is not installed.
 */
export function selfSignedCertificate(): { cert: string; key: string; ca: Buffer; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'occi-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert],
      { stdio: 'ignore' },
    );
    return { cert, key, ca: readFileSync(cert), dispose: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return { cert: join(FIXTURE, 'cert.pem'), key: join(FIXTURE, 'key.pem'), ca: readFileSync(join(FIXTURE, 'cert.pem')), dispose: () => undefined };
  }
}

export const SECURITY_HEADER_VALUES: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cache-control': 'no-store',
};
