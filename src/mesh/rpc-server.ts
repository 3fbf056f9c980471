/** The RPC server: one protomux-rpc responder per mesh method on every verified link, each decoding and checking its payload. */
/*
 * A method is served on every link, present and future: `handle` adds its responder to the open
 * channels, `attach` gives a new channel every method served. protomux-rpc routes a request by
 * its method name; an unknown one is answered UNKNOWN_METHOD by protomux-rpc itself. A payload
 * too large, malformed or against the method's schema is answered with an error (BAD_MESSAGE,
 * TOO_LARGE), as is a handler's failure (its code and message): nothing a peer sends reaches
 * protomux-rpc's own error path, which rethrows programmer errors.
 */
import c from 'compact-encoding';
import type ProtomuxRPC from 'protomux-rpc';
import type { MeshConfig } from './config.js';
import { MeshError } from './errors.js';
import type { LatencyEmulator } from './latency.js';
import type { Membership } from './membership.js';
import { jsonMethod, type Codec, type MethodSpec } from './rpc-codecs.js';
import type { JsonValue } from './wire.js';

export type Handler = (payload: JsonValue, fromKey: string) => Promise<JsonValue> | JsonValue;
export type TypedHandler<Req, Res> = (request: Req, fromKey: string) => Promise<Res> | Res;

/** What a responder does with a request's bytes: the reply's bytes (null for an event). */
type Route = (raw: Buffer, fromKey: string) => Promise<Buffer | null>;

/** protomux-rpc carries the bytes as they are: the codecs are the mesh's. */
const RAW = { valueEncoding: c.raw };

export interface RpcServerOptions extends Pick<MeshConfig, 'maxMessageBytes'> {
  membership: Pick<Membership, 'touch'>;
  latency: LatencyEmulator;
}

export class RpcServer {
  requestsServed = 0;
  private readonly routes = new Map<string, Route>();
  /** The JSON handlers, for calls made to this node itself (gather). */
  private readonly handlers = new Map<string, Handler>();
  /** The mesh's own methods, which `handle` cannot replace. */
  private readonly reserved = new Set<string>();
  /** Verified channels, by the key of the peer at their other end. */
  private readonly channels = new Map<ProtomuxRPC, string>();

  constructor(private readonly opts: RpcServerOptions) {}

  /** Serves the JSON method `method` (a later call replaces its handler); requests are checked against `schema` when given. */
  handle(method: string, handler: Handler, schema?: object): void {
    if (this.reserved.has(method)) throw new TypeError(`${method} is a method of the mesh itself`);
    this.handlers.set(method, handler);
    this.route(jsonMethod(method, schema), handler);
  }

  unhandle(method: string): void {
    if (this.reserved.has(method) || !this.handlers.delete(method)) return;
    this.routes.delete(method);
    for (const rpc of this.channels.keys()) rpc.unrespond(method);
  }

  /** The JSON handler of `method`. */
  handler(method: string): Handler | undefined {
    return this.handlers.get(method);
  }

  /** Serves one of the mesh's own methods, with its codecs. */
  serve<Req, Res>(spec: MethodSpec<Req, Res>, handler: TypedHandler<Req, Res>): void {
    this.reserved.add(spec.name);
    this.route(spec, handler);
  }

  /** Receives the event `name` (a message without reply); malformed ones are dropped. */
  listen<T>(name: string, codec: Codec<T>, onEvent: (value: T, fromKey: string) => void): void {
    this.reserved.add(name);
    this.add(name, async (raw, fromKey) => {
      if (raw.length > this.opts.maxMessageBytes) return null;
      let value: T;
      try {
        value = codec.decode(raw);
      } catch {
        return null;
      }
      onEvent(value, fromKey);
      return null;
    });
  }

  /** Serves every method on the verified channel `rpc` to `fromKey`, until it closes. */
  attach(rpc: ProtomuxRPC, fromKey: string): void {
    this.channels.set(rpc, fromKey);
    rpc.once('close', () => this.channels.delete(rpc));
    for (const [name, route] of this.routes) this.respond(rpc, fromKey, name, route);
  }

  private route<Req, Res>(spec: MethodSpec<Req, Res>, handler: TypedHandler<Req, Res>): void {
    this.add(spec.name, async (raw, fromKey) => {
      const { maxMessageBytes } = this.opts;
      if (raw.length > maxMessageBytes) throw answer('TOO_LARGE', `request of ${raw.length} bytes exceeds ${maxMessageBytes}`);
      this.requestsServed++;
      this.opts.membership.touch(fromKey);
      const request = spec.request.decode(raw);
      const out = spec.reply.encode(await handler(request, fromKey));
      if (out.length > maxMessageBytes) throw answer('TOO_LARGE', `reply of ${out.length} bytes exceeds ${maxMessageBytes}`);
      return out;
    });
  }

  private add(name: string, route: Route): void {
    this.routes.set(name, route);
    for (const [rpc, fromKey] of this.channels) this.respond(rpc, fromKey, name, route);
  }

  private respond(rpc: ProtomuxRPC, fromKey: string, name: string, route: Route): void {
    rpc.respond(name, RAW, async (raw: Buffer | null) => {
      let reply: Buffer | null;
      try {
        reply = await route(raw ?? Buffer.alloc(0), fromKey);
      } catch (err) {
        await this.opts.latency.wait(fromKey);
        throw asAnswer(err);
      }
      await this.opts.latency.wait(fromKey);
      return reply;
    });
  }
}

/** An error answer: protomux-rpc sends its message and code to the caller. */
function answer(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Any failure as a plain error answer with a code (BAD_MESSAGE for a payload that did not decode). */
function asAnswer(err: unknown): Error {
  if (err instanceof MeshError && err.code === 'BAD_MESSAGE') return answer('BAD_MESSAGE', err.message);
  const e = err as { message?: unknown; code?: unknown } | null;
  return answer(typeof e?.code === 'string' ? e.code : 'ERROR', String(e?.message ?? err));
}
