/** Requests sent to the member that serves them, and requests from members dispatched in-process into this node's HTTP app. */
import type { RequestListener } from 'node:http';
import type { Request, Response } from 'express';
import { MeshError } from '../../mesh/errors.js';
import { type ForwardedRequest, type ForwardedResponse, forwardErrorStatus, stripHopByHop } from '../../mesh/http-forwarding.js';
import type { Mesh } from '../../mesh/mesh.js';
import { OcciError } from '../../occi/errors.js';
import type { MeshEdgeAuth } from '../auth/forwarded-principal.js';
import { InProcessDispatch } from './in-process-dispatch.js';
import { ADMITTED_HEADER } from './headers.js';

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
  private dispatcher: InProcessDispatch | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly opts: ForwarderOptions) {
    this.timeoutMs = opts.forwardTimeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS;
  }

  /** The HTTP app that serves the requests members forward here (known once it is built). */
  serve(app: RequestListener): void {
    this.dispatcher = new InProcessDispatch(app);
  }

  /** The member's answer to the request; unreachable members and timeouts as OCCI errors. */
  async forward(key: string, req: Request, creation = false, override?: RequestOverride): Promise<ForwardedResponse> {
    const { mesh, auth } = this.opts;
    const forwarded = this.asForwarded(req, override);
    // The principal this node authenticated, bound to it and to this request: a signed envelope,
    // new at each attempt (a target accepts an envelope once, and a retry may follow a lost reply).
    const attemptHeaders = auth ? { attemptHeaders: () => auth.seal(req, forwarded, mesh.key) } : {};
    const name = mesh.member(key)?.name ?? key.slice(0, 8);
    try {
      return await mesh.forward(key, forwarded, { timeoutMs: this.timeoutMs, ...attemptHeaders });
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

  /**
   * A request another member forwarded (or one this node admitted at a chosen id): dispatched
   * in-process into this node's app, marked with what the mesh verified (forwarded-request.ts).
   */
  serveLocally(req: ForwardedRequest, fromKey?: string): Promise<ForwardedResponse> {
    const dispatcher = this.dispatcher;
    if (!dispatcher) return Promise.reject(new Error('this node does not serve requests yet'));
    const { mesh, auth } = this.opts;
    // From a member: its envelope and the token are verified here; the app gets the decision.
    const opened = fromKey && auth ? auth.open(req, fromKey) : { headers: req.headers };
    const headers = stripHopByHop(opened.headers);
    const admitted = headers[ADMITTED_HEADER];
    delete headers[ADMITTED_HEADER];
    const from = req.via?.at(-1) ?? fromKey;
    const mark = {
      ...(from ? { from: mesh.member(from)?.name ?? from.slice(0, 8) } : {}),
      ...(opened.decision ? { decision: opened.decision } : {}),
      ...(typeof admitted === 'string' ? { admitted } : {}),
    };
    return dispatcher.dispatch({ method: req.method, path: req.path, headers, body: req.body }, mark);
  }

  close(): void {
    this.dispatcher = undefined;
  }
}
