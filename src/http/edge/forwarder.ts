/** Requests sent to the member that serves them, and requests from members served through this node's own HTTP surface. */
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import type { Request, Response } from 'express';
import { MeshError } from '../../mesh/errors.js';
import { type ForwardedRequest, type ForwardedResponse, forwardErrorStatus, stripHopByHop } from '../../mesh/http-forwarding.js';
import type { Mesh } from '../../mesh/mesh.js';
import { OcciError } from '../../occi/errors.js';
import type { MeshEdgeAuth } from '../auth/forwarded-principal.js';
import { FORWARDED_FROM_HEADER, LOCAL_TOKEN_HEADER } from './headers.js';

export const DEFAULT_FORWARD_TIMEOUT_MS = 10_000;

/** How an admission re-addresses a request: a POST becomes the PUT of the id it was admitted at. */
export interface RequestOverride {
  method: string;
  path: string;
  extraHeaders: Record<string, string>;
}

export interface ForwarderOptions {
  mesh: Mesh;
  /** Principals of forwarded requests (src/http/auth/forwarded-principal.ts); trusted as claimed without it. */
  auth?: MeshEdgeAuth;
  forwardTimeoutMs?: number;
}

export class Forwarder {
  /** Marks requests that re-enter from a member: only this process knows it. */
  private readonly token = randomBytes(16).toString('hex');
  private readonly agent = new Agent({ keepAlive: true });
  private localUrl: URL | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly opts: ForwarderOptions) {
    this.timeoutMs = opts.forwardTimeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS;
  }

  /** Where this node's own HTTP surface listens (known once it listens). */
  listening(url: string): void {
    this.localUrl = new URL(url);
  }

  /** Whether a request's local token is this process's: it re-entered from a member. */
  isLocalToken(value: unknown): boolean {
    return value === this.token;
  }

  /** The member's answer to the request; unreachable members and timeouts as OCCI errors. */
  async forward(key: string, req: Request, creation = false, override?: RequestOverride): Promise<ForwardedResponse> {
    const { mesh, auth } = this.opts;
    const forwarded = this.asForwarded(req, override);
    // The principal this node authenticated, bound to it and to this request (signed envelope).
    if (auth) forwarded.headers = { ...forwarded.headers, ...auth.seal(req, forwarded, mesh.key) };
    const name = mesh.member(key)?.name ?? key.slice(0, 8);
    try {
      return await mesh.forward(key, forwarded, { timeoutMs: this.timeoutMs });
    } catch (err) {
      const status = forwardErrorStatus(err);
      const why = err instanceof MeshError ? err.message : String(err);
      if (status === 504) throw new OcciError('GATEWAY_TIMEOUT', `member ${name} did not answer in time${creation ? '; the creation may have happened there' : ''}`, {}, { cause: err });
      if (status === 413) throw new OcciError('PAYLOAD_TOO_LARGE', `the request is too large to forward to ${name}`, {}, { cause: err });
      throw OcciError.unavailable(`member ${name} holding this request's target is unreachable: ${why}`, err);
    }
  }

  /** The request as a member receives it; an admission sends it as a PUT at its chosen id. */
  asForwarded(req: Request, override?: RequestOverride): ForwardedRequest {
    return {
      method: override?.method ?? req.method,
      path: override?.path ?? req.originalUrl,
      headers: { ...(req.headers as Record<string, string | string[]>), ...override?.extraHeaders },
      body: Buffer.from(typeof req.body === 'string' ? req.body : ''),
    };
  }

  /** The member's answer, relayed to the client as it is. */
  send(res: Response, answer: ForwardedResponse): void {
    res.status(answer.status);
    for (const [k, v] of Object.entries(stripHopByHop(answer.headers))) res.setHeader(k, v);
    res.end(answer.body);
  }

  /** A request another member forwarded: through this node's own HTTP surface, on loopback. */
  serveLocally(req: ForwardedRequest, fromKey?: string): Promise<ForwardedResponse> {
    const url = this.localUrl;
    if (!url) return Promise.reject(new Error('this node is not listening yet'));
    const { mesh, auth } = this.opts;
    // `localUrl` is the node's plain re-entry listener on 127.0.0.1 (listener.ts), also when the
    // node serves HTTPS: no TLS to itself, and members' traffic is not limited twice.
    // From a member: its envelope and the token are verified here; the app gets the decision.
    const verified = fromKey && auth ? auth.open(req, fromKey) : req.headers;
    const headers: Record<string, string | string[]> = { ...stripHopByHop(verified), [LOCAL_TOKEN_HEADER]: this.token };
    delete headers[FORWARDED_FROM_HEADER];
    const from = req.via?.at(-1);
    if (from) headers[FORWARDED_FROM_HEADER] = mesh.member(from)?.name ?? from.slice(0, 8);
    return new Promise((resolve, reject) => {
      const out = httpRequest(
        { host: url.hostname, port: url.port, method: req.method, path: req.path, agent: this.agent, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers as Record<string, string | string[]>, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      out.on('error', reject);
      out.end(req.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
