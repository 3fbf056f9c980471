/** RPC between members: the client (deadlines, retries, a breaker per member) and the server (handlers by method). */
/*
 * A call is one protomux-rpc request carrying the envelope `{ m, v }`; the
 * reply is `{ ok, v }` or `{ ok: false, code, message }`. Idempotent calls
 * that fail with CLOSED / UNREACHABLE are retried within their deadline, on
 * the connection that replaced the one they failed on; a member whose calls
 * keep getting no answer is not called for a while (call-policy.ts).
 */
import { BrokenCircuitError } from 'cockatiel';
import type { Logger } from 'pino';
import { CallPolicy, circuitOpen } from './call-policy.js';
import { sleep, type MeshTimers } from './clock.js';
import { DEFAULT_MAX_IN_FLIGHT, type MeshConfig } from './config.js';
import { MeshError, short } from './errors.js';
import type { LatencyEmulator } from './latency.js';
import type { Link, LinkTable } from './links.js';
import type { Membership } from './membership.js';
import { decode, decodeEnvelope, encode, type Envelope, type JsonValue, type Reply } from './wire.js';

/** Bound on the attempts to find a usable link within one call (each replacement is one). */
const MAX_LINK_LOOKUPS = 10;

export type Handler = (payload: JsonValue, fromKey: string) => Promise<JsonValue> | JsonValue;

export interface RequestOptions {
  timeoutMs?: number;
  /** Safe to repeat: retried on CLOSED / UNREACHABLE within the deadline. */
  idempotent?: boolean;
  retries?: number;
}

export interface RpcClientOptions
  extends Pick<
    MeshConfig,
    'requestTimeoutMs' | 'maxMessageBytes' | 'retries' | 'retryDelayMs' | 'retryMaxDelayMs' | 'breakerConsecutiveFailures' | 'breakerHalfOpenAfterMs'
  > {
  selfKey: string;
  links: Pick<LinkTable, 'get' | 'waitFor'>;
  membership: Pick<Membership, 'has' | 'isReconnecting'>;
  latency: LatencyEmulator;
  timers: MeshTimers;
  log: Logger;
}

export class RpcClient {
  requestsSent = 0;
  private readonly pending = new Set<(err: MeshError) => void>();
  private readonly policy: CallPolicy;
  private closing = false;

  constructor(private readonly opts: RpcClientOptions) {
    this.policy = new CallPolicy({ ...opts, now: () => opts.timers.now(), stopped: () => this.closing });
  }

  /** Call `method` on member `peerKey`. Rejects with MeshError. */
  async request<T = JsonValue>(peerKey: string, method: string, payload: JsonValue, options: RequestOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.opts.requestTimeoutMs;
    const deadline = this.opts.timers.now() + timeoutMs;
    const retries = options.idempotent ? (options.retries ?? this.opts.retries) : 0;
    const attempt = (): Promise<JsonValue> =>
      this.attempt(peerKey, method, payload, deadline, timeoutMs).catch((err: unknown) => {
        throw err instanceof MeshError ? err : MeshError.CLOSED('call failed', err, peerKey);
      });
    const onRetry = (err: MeshError, attemptNo: number): void =>
      this.opts.log.debug({ peer: short(peerKey), method, attempt: attemptNo, code: err.code }, 'retrying idempotent call');
    return (await this.policy.retrying(retries, deadline, attempt, onRetry)) as T;
  }

  /** Forgets the failures of `peerKey`'s calls (a new connection to it was verified, or it left). */
  forgetFailures(peerKey: string): void {
    this.policy.forget(peerKey);
  }

  /** No more calls: the ones made from now on fail with CLOSED. */
  stop(): void {
    this.closing = true;
  }

  /** Fails every call in flight with `reason`. */
  rejectPending(reason: MeshError): void {
    for (const reject of [...this.pending]) reject(reason);
  }

  private async attempt(peerKey: string, method: string, payload: JsonValue, deadline: number, timeoutMs: number): Promise<JsonValue> {
    if (this.closing) throw MeshError.CLOSED('mesh closed', undefined, peerKey);
    if (peerKey === this.opts.selfKey) throw MeshError.UNREACHABLE(peerKey, new Error('request to self'));
    const envelope: Envelope = { m: method, v: payload };
    const body = encode(envelope);
    if (body.length > this.opts.maxMessageBytes) throw MeshError.TOO_LARGE(body.length, this.opts.maxMessageBytes, peerKey);
    if (this.pending.size >= DEFAULT_MAX_IN_FLIGHT) throw MeshError.UNREACHABLE(peerKey, new Error('too many calls in flight'));
    const exchange = (): Promise<Reply> => this.exchange(peerKey, body, deadline, timeoutMs);
    // Only members have a breaker (theirs are forgotten when they leave).
    const reply = await (this.opts.membership.has(peerKey) ? this.policy.guarded(peerKey, exchange) : exchange()).catch((err: unknown) => {
      throw err instanceof BrokenCircuitError ? circuitOpen(peerKey, err) : err;
    });
    if (reply.ok) return reply.v;
    if (reply.code === 'NO_HANDLER') throw MeshError.NO_HANDLER(method, peerKey);
    if (reply.code === 'TOO_LARGE') throw new MeshError('TOO_LARGE', reply.message, { peer: peerKey, remoteCode: 'TOO_LARGE' });
    throw MeshError.REMOTE_ERROR(reply.message, reply.code, peerKey);
  }

  /**
   * One call's request and its reply, whatever the reply says, by the deadline; rejects with
   * TIMEOUT / UNREACHABLE when the member did not answer (what its breaker counts), with CLOSED
   * when the connection or the mesh closed under the call.
   */
  private exchange(peerKey: string, body: Buffer, deadline: number, timeoutMs: number): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      let done = false;
      const finish = (err: MeshError | null, reply?: Reply): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.pending.delete(fail);
        if (err) reject(err);
        else resolve(reply!);
      };
      const fail = (err: MeshError): void => finish(err);
      const remaining = Math.max(0, deadline - this.opts.timers.now());
      const timer = setTimeout(() => finish(MeshError.TIMEOUT(timeoutMs, peerKey)), remaining);
      this.pending.add(fail);
      void (async () => {
        const link = await this.readyLink(peerKey, deadline);
        if (done) return;
        await this.opts.latency.wait(peerKey);
        if (done) return;
        if (link.closed || link.rpc.closed) return finish(MeshError.CLOSED('connection closed', undefined, peerKey));
        this.requestsSent++;
        const raw = await link.rpc.request('call', body, { timeout: Math.max(1, deadline - this.opts.timers.now()) });
        finish(null, decode(raw) as Reply);
      })().catch((err: unknown) => {
        if (err instanceof MeshError) return finish(err);
        const code = (err as { code?: string })?.code;
        if (code === 'TIMEOUT_EXCEEDED') return finish(MeshError.TIMEOUT(timeoutMs, peerKey, err));
        finish(MeshError.CLOSED('connection closed during the call', err, peerKey));
      });
    });
  }

  /** The verified link to `peerKey`, waiting (bounded by `deadline`) while a replacement connection authenticates. */
  private async readyLink(peerKey: string, deadline: number): Promise<Link> {
    const { links, membership, timers } = this.opts;
    for (let i = 0; i < MAX_LINK_LOOKUPS; i++) {
      const link = links.get(peerKey);
      if (!link) {
        if (!membership.has(peerKey)) throw MeshError.NOT_MEMBER(peerKey);
        if (!membership.isReconnecting(peerKey)) throw MeshError.UNREACHABLE(peerKey);
        // The connection is being replaced: wait for the new one (bounded by the deadline and the grace).
        const left = deadline - timers.now();
        if (left <= 0) throw MeshError.TIMEOUT(0, peerKey);
        await links.waitFor(peerKey, left);
        continue;
      }
      if (link.verified && !link.closed) return link;
      const left = deadline - timers.now();
      if (left <= 0) throw MeshError.TIMEOUT(0, peerKey);
      const ok = await Promise.race([link.ready, sleep(timers, left).then(() => false)]);
      if (ok && !link.closed) return link;
      if (links.get(peerKey) === link) throw MeshError.UNREACHABLE(peerKey);
    }
    throw MeshError.UNREACHABLE(peerKey);
  }
}

export interface RpcServerOptions extends Pick<MeshConfig, 'maxMessageBytes'> {
  membership: Pick<Membership, 'touch'>;
  latency: LatencyEmulator;
}

export class RpcServer {
  requestsServed = 0;
  private readonly handlers = new Map<string, Handler>();
  /** The mesh's own methods (`mesh/…`), served ahead of the handlers. */
  private readonly reserved = new Map<string, Handler>();

  constructor(private readonly opts: RpcServerOptions) {}

  handle(method: string, handler: Handler): void {
    this.handlers.set(method, handler);
  }

  unhandle(method: string): void {
    this.handlers.delete(method);
  }

  /** The handler of `method` (reserved methods excepted). */
  handler(method: string): Handler | undefined {
    return this.handlers.get(method);
  }

  /** Serves one of the mesh's own methods; no handler can replace it. */
  reserve(method: string, handler: Handler): void {
    this.reserved.set(method, handler);
  }

  /** Answers a call from `fromKey`: the encoded reply, sent after the emulated delay. */
  async onCall(fromKey: string, raw: Buffer | null): Promise<Buffer> {
    const reply = await this.serve(fromKey, raw);
    let out = encode(reply);
    if (out.length > this.opts.maxMessageBytes) {
      out = encode({ ok: false, code: 'TOO_LARGE', message: `reply of ${out.length} bytes exceeds ${this.opts.maxMessageBytes}` });
    }
    await this.opts.latency.wait(fromKey);
    return out;
  }

  private async serve(fromKey: string, raw: Buffer | null): Promise<Reply> {
    if (!raw) return { ok: false, code: 'BAD_MESSAGE', message: 'empty request' };
    if (raw.length > this.opts.maxMessageBytes) {
      return { ok: false, code: 'TOO_LARGE', message: `request of ${raw.length} bytes exceeds ${this.opts.maxMessageBytes}` };
    }
    let env: Envelope;
    try {
      env = decodeEnvelope(raw);
    } catch (err) {
      return { ok: false, code: 'BAD_MESSAGE', message: (err as Error).message };
    }
    this.requestsServed++;
    this.opts.membership.touch(fromKey);
    const handler = this.reserved.get(env.m) ?? this.handlers.get(env.m);
    if (!handler) return { ok: false, code: 'NO_HANDLER', message: `no handler for ${env.m}` };
    try {
      const v = await handler(env.v, fromKey);
      return { ok: true, v: v === undefined ? null : v };
    } catch (err) {
      const e = err as { message?: string; code?: unknown };
      return { ok: false, code: typeof e?.code === 'string' ? e.code : 'ERROR', message: String(e?.message ?? err) };
    }
  }
}
