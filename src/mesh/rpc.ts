/** The RPC client: calls to members with deadlines, retries of idempotent ones and a breaker per member. */
/*
 * A call is one protomux-rpc request to the method's own name, its payload and reply in the
 * method's codecs (rpc-codecs.ts). A session is several requests that must be repeated together
 * (a forwarded request and its body's chunks): a retry repeats the whole session. Idempotent
 * calls and sessions that fail with CLOSED / UNREACHABLE are retried within their deadline, on
 * the connection that replaced the one they failed on; a member whose calls keep getting no
 * answer is not called for a while (call-policy.ts).
 */
import { BrokenCircuitError } from 'cockatiel';
import c from 'compact-encoding';
import type { Logger } from 'pino';
import { CallPolicy, circuitOpen } from './call-policy.js';
import { sleep, type MeshTimers } from './clock.js';
import { DEFAULT_MAX_IN_FLIGHT, type MeshConfig } from './config.js';
import { MeshError, short } from './errors.js';
import type { LatencyEmulator } from './latency.js';
import type { Link, LinkTable } from './links.js';
import type { Membership } from './membership.js';
import { jsonMethod, type MethodSpec } from './rpc-codecs.js';
import type { JsonValue } from './wire.js';

/** Bound on the attempts to find a usable link within one call (each replacement is one). */
const MAX_LINK_LOOKUPS = 10;
const RAW = { valueEncoding: c.raw };

export interface RequestOptions {
  timeoutMs?: number;
  /** Safe to repeat: retried on CLOSED / UNREACHABLE within the deadline. */
  idempotent?: boolean;
  retries?: number;
}

/** One request of a session, bounded by the session's deadline. */
export type Send = <Req, Res>(spec: MethodSpec<Req, Res>, payload: Req) => Promise<Res>;

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

/** What one exchange got: the reply's bytes, or the error the member answered. */
type Answer = { raw: Buffer } | { refused: MeshError };

export class RpcClient {
  requestsSent = 0;
  private readonly pending = new Set<(err: MeshError) => void>();
  private readonly policy: CallPolicy;
  private closing = false;

  constructor(private readonly opts: RpcClientOptions) {
    this.policy = new CallPolicy({ ...opts, now: () => opts.timers.now(), stopped: () => this.closing });
  }

  private readonly jsonMethods = new Map<string, MethodSpec<JsonValue, JsonValue>>();

  /** Call the JSON method `method` on member `peerKey`. Rejects with MeshError. */
  request<T = JsonValue>(peerKey: string, method: string, payload: JsonValue, options: RequestOptions = {}): Promise<T> {
    let spec = this.jsonMethods.get(method);
    if (!spec) this.jsonMethods.set(method, (spec = jsonMethod(method)));
    return this.call(peerKey, spec, payload, options) as Promise<T>;
  }

  /** Call `spec` on member `peerKey`. Rejects with MeshError. */
  call<Req, Res>(peerKey: string, spec: MethodSpec<Req, Res>, payload: Req, options: RequestOptions = {}): Promise<Res> {
    return this.session(peerKey, spec.name, options, (send) => send(spec, payload));
  }

  /** Runs `run`, whose requests go to `peerKey` within one deadline; an idempotent session is run again after a lost connection. */
  async session<T>(peerKey: string, label: string, options: RequestOptions, run: (send: Send) => Promise<T>): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.opts.requestTimeoutMs;
    const deadline = this.opts.timers.now() + timeoutMs;
    const retries = options.idempotent ? (options.retries ?? this.opts.retries) : 0;
    const send: Send = (spec, payload) => this.attempt(peerKey, spec, payload, deadline, timeoutMs);
    const attempt = (): Promise<T> =>
      run(send).catch((err: unknown) => {
        throw err instanceof MeshError ? err : MeshError.CLOSED('call failed', err, peerKey);
      });
    const onRetry = (err: MeshError, attemptNo: number): void =>
      this.opts.log.debug({ peer: short(peerKey), method: label, attempt: attemptNo, code: err.code }, 'retrying idempotent call');
    return this.policy.retrying(retries, deadline, attempt, onRetry);
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

  private async attempt<Req, Res>(peerKey: string, spec: MethodSpec<Req, Res>, payload: Req, deadline: number, timeoutMs: number): Promise<Res> {
    if (this.closing) throw MeshError.CLOSED('mesh closed', undefined, peerKey);
    if (peerKey === this.opts.selfKey) throw MeshError.UNREACHABLE(peerKey, new Error('request to self'));
    const body = spec.request.encode(payload);
    if (body.length > this.opts.maxMessageBytes) throw MeshError.TOO_LARGE(body.length, this.opts.maxMessageBytes, peerKey);
    if (this.pending.size >= DEFAULT_MAX_IN_FLIGHT) throw MeshError.UNREACHABLE(peerKey, new Error('too many calls in flight'));
    const exchange = (): Promise<Answer> => this.exchange(peerKey, spec.name, body, deadline, timeoutMs);
    // Only members have a breaker (theirs are forgotten when they leave).
    const answer = await (this.opts.membership.has(peerKey) ? this.policy.guarded(peerKey, exchange) : exchange()).catch((err: unknown) => {
      throw err instanceof BrokenCircuitError ? circuitOpen(peerKey, err) : err;
    });
    if ('refused' in answer) throw answer.refused;
    try {
      return spec.reply.decode(answer.raw);
    } catch (err) {
      throw new MeshError('BAD_MESSAGE', (err as Error).message, { peer: peerKey, cause: err });
    }
  }

  /**
   * One request and its answer, whatever the answer says, by the deadline; rejects with
   * TIMEOUT / UNREACHABLE when the member did not answer (what its breaker counts), with CLOSED
   * when the connection or the mesh closed under the call.
   */
  private exchange(peerKey: string, method: string, body: Buffer, deadline: number, timeoutMs: number): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      let done = false;
      const finish = (err: MeshError | null, answer?: Answer): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.pending.delete(fail);
        if (err) reject(err);
        else resolve(answer!);
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
        const raw = await link.rpc.request(method, body, { ...RAW, timeout: Math.max(1, deadline - this.opts.timers.now()) });
        finish(null, { raw: raw ?? Buffer.alloc(0) });
      })().catch((err: unknown) => {
        if (err instanceof MeshError) return finish(err);
        const refused = answered(err, method, peerKey);
        if (refused) return finish(null, { refused });
        if ((err as { code?: string })?.code === 'TIMEOUT_EXCEEDED') return finish(MeshError.TIMEOUT(timeoutMs, peerKey, err));
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

/** The error a member answered (protomux-rpc's UNKNOWN_METHOD, or a failure with its code), as a MeshError; null when `err` is not an answer. */
function answered(err: unknown, method: string, peerKey: string): MeshError | null {
  const e = err as { code?: string; cause?: { message?: string; code?: string } } | null;
  if (e?.code === 'UNKNOWN_METHOD') return MeshError.NO_HANDLER(method, peerKey);
  if (e?.code !== 'REQUEST_ERROR') return null;
  const code = e.cause?.code || undefined;
  const message = e.cause?.message ?? 'request failed';
  if (code === 'TOO_LARGE') return new MeshError('TOO_LARGE', message, { peer: peerKey, remoteCode: code });
  return MeshError.REMOTE_ERROR(message, code, peerKey);
}
