/** Forwarded HTTP requests over the mesh: sent to the member that serves them, bodies in chunks beyond one message. */
/*
 * The request, its body's chunks and its answer's chunks are one RPC session (rpc.ts): when a
 * connection is lost under any of them, an idempotent request is sent again whole, chunks and
 * all, under a new transfer id. So a request whose answer was lost is repeated like a small one,
 * and the target never needs the parts of an earlier attempt. Headers that must be new at each
 * attempt (an authentication envelope, which a target accepts once) are made per attempt.
 */
import { randomInt } from 'node:crypto';
import type { MeshTimers } from './clock.js';
import type { MeshConfig } from './config.js';
import { MeshError } from './errors.js';
import { FORWARD, FORWARD_CHUNK, FORWARD_PULL, type ForwardMessage, type TransferRef } from './forward-codecs.js';
import { TransferBuffers } from './forward-transfers.js';
import {
  DEFAULT_FORWARD_TIMEOUT_MS,
  type HttpHeaders,
  isIdempotentMethod,
  MAX_FORWARD_HOPS,
  stripHopByHop,
  type ForwardedRequest,
  type ForwardedResponse,
  type ForwardHandler,
} from './http-forwarding.js';
import type { RpcClient, Send } from './rpc.js';
import type { RpcServer } from './rpc-server.js';

/** Largest body part in one message. */
export const MAX_CHUNK_BYTES = 512 * 1024;
/** Chunks of one body in flight at once. */
const CHUNK_WINDOW = 4;
/** Bodies held for members, in bodies of the largest size. */
const BUFFERED_BODIES = 4;

export interface ForwardingOptions extends Pick<MeshConfig, 'maxMessageBytes' | 'maxBodyBytes'> {
  selfKey: string;
  client: RpcClient;
  server: RpcServer;
  timers: MeshTimers;
}

export interface ForwardOptions {
  timeoutMs?: number;
  /** Headers added to each attempt, made anew for it. */
  attemptHeaders?: () => HttpHeaders;
}

export class Forwarding {
  private readonly chunkBytes: number;
  private handler: ForwardHandler | null = null;
  private readonly buffers: TransferBuffers;
  private nextUpload = randomInt(1, 2 ** 31);

  constructor(private readonly opts: ForwardingOptions) {
    // Room for the headers beside a chunk.
    this.chunkBytes = Math.max(1, Math.min(MAX_CHUNK_BYTES, Math.floor(opts.maxMessageBytes / 2)));
    this.buffers = new TransferBuffers({
      maxBodyBytes: opts.maxBodyBytes,
      maxBufferedBytes: BUFFERED_BODIES * opts.maxBodyBytes,
      ttlMs: 2 * DEFAULT_FORWARD_TIMEOUT_MS,
      timers: opts.timers,
    });
  }

  /** Forwards `req` to member `peerKey`; its answer comes back unchanged. Rejects with MeshError (see forwardErrorStatus). */
  forward(peerKey: string, req: ForwardedRequest, options: ForwardOptions = {}): Promise<ForwardedResponse> {
    const { maxBodyBytes } = this.opts;
    if (req.body.length > maxBodyBytes) return Promise.reject(MeshError.TOO_LARGE(req.body.length, maxBodyBytes, peerKey));
    const head = () => ({
      method: req.method.toUpperCase(),
      path: req.path,
      headers: stripHopByHop({ ...req.headers, ...options.attemptHeaders?.() }),
      via: [...(req.via ?? []), this.opts.selfKey],
    });
    const session = { timeoutMs: options.timeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS, idempotent: isIdempotentMethod(req.method) };
    return this.opts.client.session(peerKey, FORWARD.name, session, (send) => this.exchange(send, head(), req.body));
  }

  /** Serves requests forwarded by other members with `handler` (a later call replaces it), refusing loops. */
  serve(handler: ForwardHandler): void {
    const first = this.handler === null;
    this.handler = handler;
    if (first) this.route();
  }

  private route(): void {
    const { server } = this.opts;
    server.serve(FORWARD_CHUNK, (chunk, fromKey) => (this.buffers.receive(fromKey, chunk), null));
    server.serve(FORWARD_PULL, (pull, fromKey) => ({ bytes: this.buffers.pull(fromKey, pull.id, pull.offset, this.chunkBytes) }));
    server.serve(FORWARD, async (m, fromKey) => {
      if (m.via.length > MAX_FORWARD_HOPS) throw Object.assign(new Error(`forwarded more than ${MAX_FORWARD_HOPS} times`), { code: 'LOOP' });
      const body = m.upload ? this.buffers.complete(fromKey, m.upload, m.body) : m.body;
      const res = await this.handler!({ method: m.method, path: m.path, headers: m.headers, body, via: m.via }, fromKey);
      const headers = stripHopByHop(res.headers);
      if (res.body.length > this.opts.maxBodyBytes) throw MeshError.TOO_LARGE(res.body.length, this.opts.maxBodyBytes);
      if (res.body.length <= this.chunkBytes) return { status: res.status, headers, body: res.body, download: null };
      const download = this.buffers.offer(fromKey, res.body);
      return { status: res.status, headers, body: res.body.subarray(0, this.chunkBytes), download };
    });
  }

  /** Forgets the bodies held for members. */
  stop(): void {
    this.buffers.clear();
  }

  /** One attempt: the body's first parts, the request with its last part, then the rest of the answer's body. */
  private async exchange(send: Send, head: Omit<ForwardMessage, 'body' | 'upload'>, body: Buffer): Promise<ForwardedResponse> {
    const step = this.chunkBytes;
    let upload: TransferRef | null = null;
    let last = body;
    if (body.length > step) {
      const id = this.nextUpload++;
      const lastStart = Math.floor((body.length - 1) / step) * step;
      const offsets: number[] = [];
      for (let o = 0; o < lastStart; o += step) offsets.push(o);
      await windowed(offsets, (offset) => send(FORWARD_CHUNK, { id, size: body.length, offset, bytes: body.subarray(offset, offset + step) }));
      upload = { id, size: body.length };
      last = body.subarray(lastStart);
    }
    const reply = await send(FORWARD, { ...head, body: last, upload });
    if (!reply.download) return { status: reply.status, headers: reply.headers, body: reply.body };
    const { id, size } = reply.download;
    const whole = Buffer.allocUnsafe(size);
    reply.body.copy(whole, 0);
    const part = reply.body.length;
    const offsets: number[] = [];
    for (let o = part; o < size; o += part) offsets.push(o);
    await windowed(offsets, async (offset) => {
      const { bytes } = await send(FORWARD_PULL, { id, offset });
      if (bytes.length !== Math.min(part, size - offset)) throw MeshError.BAD_MESSAGE(`part of ${bytes.length} bytes at ${offset} of answer ${id}`);
      bytes.copy(whole, offset);
    });
    return { status: reply.status, headers: reply.headers, body: whole };
  }
}

/** Runs `fn` over `items`, at most CHUNK_WINDOW at once; rejects with the first failure. */
async function windowed<T>(items: T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(CHUNK_WINDOW, items.length) }, lane));
}
