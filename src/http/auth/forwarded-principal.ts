/**
 * The principal of a request forwarded across the mesh, bound to the entry node and the request.
 *
 * The entry node authenticates the client, then forwards the request (with the client's token)
 * and an envelope {tenant, admin, tid, entry, to, method, path, body digest, boot, seq} signed
 * with its Ed25519 mesh identity key. The member that serves it checks, before anything runs
 * there: the signature against the key of the member that sent it, `entry` = that member, `to` =
 * itself, the method, path and body digest, that (boot, seq) was not seen before, and the token
 * itself (signature, expiry, revocation, and that it names the same tid, tenant and admin flag). A
 * member therefore cannot act as a tenant whose token it was not given, nor replay or retarget
 * another's request. Any failure is a 401 (logged). The decision then reaches the node's own HTTP
 * app with the request, dispatched in-process (src/http/forwarded-request.ts): nothing on the wire
 * carries it.
 *
 * Replay protection compares no clocks (members' wall clocks may be skewed either way): `boot` is
 * the entry node's start counter (persisted, so it only grows) and `seq` counts the envelopes it
 * sealed for this destination since that start. The serving node keeps, per entry node, the
 * latest boot and a sliding window over its sequence numbers, as IPsec's anti-replay does (RFC
 * 4303 §3.4.3): a number above the window's top moves it, one inside it is accepted once, one
 * below it or from an earlier boot is refused. The mesh connection itself is authenticated, so
 * only the entry node can present its envelopes at all.
 *
 * Gathers (collections, query interface) carry the client's token in the principal and each
 * member verifies it again (`gatherPrincipal`).
 *
 * @example
 *   const fp = new ForwardedPrincipals({ keyPair: mesh.keyPair, boot, verifier, logger });
 *   forwarded.headers = { ...forwarded.headers, ...fp.seal(req, forwarded, mesh.key, targetKey) }; // entry node
 *   const { headers, decision } = fp.open(forwardedRequest, fromKey);                              // serving node
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import type { Request } from 'express';
import type { Logger } from 'pino';
import type { ForwardedRequest, HttpHeaders } from '../../mesh/http-forwarding.js';
import { LOCAL_ADMIN, type Principal } from '../../occi/request.js';
import { type AuthMode, type AuthPrincipal, credentialIn, principalOfClaims, type TokenVerifier, type TrustedDecision } from './authenticate.js';
import { ReplayWindows } from './replay-window.js';
import { TENANT_PATTERN } from './token.js';

export const ENVELOPE_HEADER = 'x-discovery-principal';

interface Envelope {
  tenant: string;
  admin: boolean;
  tid: string;
  /** Mesh key (hex) of the node that authenticated the client. */
  entry: string;
  method: string;
  path: string;
  /** sha256 of the body, hex. */
  body: string;
  /** The entry node's start counter, and the number of this envelope since that start. */
  boot: number;
  seq: number;
}

/** What MeshEdge asks of the authentication layer. */
export interface MeshEdgeAuth {
  /** Headers to add to a request this node forwards (the signed envelope). */
  seal(req: Request, forwarded: ForwardedRequest, entryKey: string): HttpHeaders;
  /** The headers to serve a forwarded request with (the envelope removed), and the verified principal or the refusal. */
  open(req: ForwardedRequest, fromKey: string): { headers: HttpHeaders; decision?: TrustedDecision };
  /** The principal of a gather, verified again from the token it carries. Throws when it does not verify. */
  gatherPrincipal(claimed: unknown): Principal;
}

export interface ForwardedPrincipalsOptions {
  mode: AuthMode;
  /** The mesh identity of this node (hyperdht key pair: 64-byte secret key = seed ‖ public key). */
  keyPair: { publicKey: Buffer; secretKey: Buffer };
  /** This node's start counter (persisted, grows at every start): the `boot` of the envelopes it seals. */
  boot: number;
  verifier?: TokenVerifier;
  logger: Logger;
  /** Principal of the request being forwarded (set by the authentication middleware). */
  principalOf: (req: Request) => AuthPrincipal | undefined;
  /** Sequence numbers each entry node's window spans (replay-window.ts). */
  replayWindow?: number;
}

const REPLAY_FAILURE = { replayed: 'envelope replayed', 'below-window': 'envelope replayed or too old (below the window)', 'earlier-boot': 'envelope from an earlier start of the entry node' } as const;

export class ForwardedPrincipals implements MeshEdgeAuth {
  private readonly privateKey: KeyObject;
  private readonly publicKeys = new Map<string, KeyObject>();
  private readonly windows: ReplayWindows;
  private seq = 0;

  constructor(private readonly opts: ForwardedPrincipalsOptions) {
    this.privateKey = ed25519PrivateKey(opts.keyPair);
    this.windows = new ReplayWindows(opts.replayWindow);
  }

  /** The (boot, seq) of the next envelope this node seals. */
  nextSequence(): { boot: number; seq: number } {
    return { boot: this.opts.boot, seq: ++this.seq };
  }

  seal(req: Request, forwarded: ForwardedRequest, entryKey: string): HttpHeaders {
    const principal = this.opts.principalOf(req);
    if (this.opts.mode === 'none' || !principal?.tokenId) return {};
    const envelope: Envelope = {
      tenant: principal.tenant,
      admin: principal.admin,
      tid: principal.tokenId,
      entry: entryKey,
      method: forwarded.method,
      path: forwarded.path,
      body: digest(forwarded.body),
      ...this.nextSequence(),
    };
    return { [ENVELOPE_HEADER]: encodeEnvelope(envelope, this.privateKey) };
  }

  open(req: ForwardedRequest, fromKey: string): { headers: HttpHeaders; decision?: TrustedDecision } {
    const headers: HttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (k.toLowerCase() !== ENVELOPE_HEADER) headers[k.toLowerCase()] = v;
    if (this.opts.mode === 'none') return { headers };
    const decided = this.check(req, fromKey);
    if ('failure' in decided) {
      this.opts.logger.warn({ member: fromKey.slice(0, 8), method: req.method, path: req.path, reason: decided.failure }, 'forwarded request refused');
      return { headers, decision: { failure: `forwarded request refused: ${decided.failure}` } };
    }
    const p = decided.principal;
    return { headers, decision: { principal: { tenant: p.tenant, admin: p.admin, tokenId: p.tokenId } } };
  }

  gatherPrincipal(claimed: unknown): Principal {
    const c = (claimed ?? {}) as { tenant?: unknown; admin?: unknown; credential?: unknown };
    if (this.opts.mode === 'none') {
      return typeof c.tenant === 'string' && typeof c.admin === 'boolean' ? { tenant: c.tenant, admin: c.admin } : LOCAL_ADMIN;
    }
    const checked = typeof c.credential === 'string' ? this.opts.verifier!.check(c.credential) : { ok: false as const, reason: 'missing' };
    if (!checked.ok) throw Object.assign(new Error(`gather refused: ${checked.reason} token`), { code: 'UNAUTHORIZED' });
    return principalOfClaims(checked.claims);
  }

  private check(req: ForwardedRequest, fromKey: string): { principal: AuthPrincipal } | { failure: string } {
    const raw = req.headers[ENVELOPE_HEADER];
    if (typeof raw !== 'string') return { failure: 'no principal envelope' };
    const env = this.verifyEnvelope(raw, fromKey);
    if (typeof env === 'string') return { failure: env };
    if (env.entry !== fromKey.toLowerCase()) return { failure: 'envelope names another entry node' };
    if (env.method !== req.method || env.path !== req.path) return { failure: 'envelope is for another request' };
    if (env.body !== digest(req.body)) return { failure: 'body does not match the envelope' };
    const { token } = credentialIn(req.headers);
    const checked = token ? this.opts.verifier!.check(token) : { ok: false as const, reason: 'missing' };
    if (!checked.ok) return { failure: `token ${checked.reason}` };
    const c = checked.claims;
    if (c.tid !== env.tid || c.tenant !== env.tenant || c.admin !== env.admin) return { failure: 'envelope does not match the token' };
    // Last: only an envelope that would be served takes its place in the window.
    const verdict = this.windows.accept(env.entry, env.boot, env.seq);
    if (verdict !== 'fresh') return { failure: REPLAY_FAILURE[verdict] };
    return { principal: principalOfClaims(c) };
  }

  private verifyEnvelope(raw: string, fromKey: string): Envelope | string {
    const [payload, signature, extra] = raw.split('.');
    if (!payload || !signature || extra !== undefined) return 'malformed envelope';
    let key = this.publicKeys.get(fromKey);
    if (!key) {
      try {
        key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(fromKey, 'hex').toString('base64url') }, format: 'jwk' });
      } catch {
        return 'unknown member key';
      }
      if (this.publicKeys.size > 1024) this.publicKeys.clear();
      this.publicKeys.set(fromKey, key);
    }
    const bytes = Buffer.from(payload, 'base64url');
    if (!verify(null, bytes, key, Buffer.from(signature, 'base64url'))) return 'bad envelope signature';
    try {
      const e = JSON.parse(bytes.toString('utf8')) as Envelope;
      if (typeof e.tenant !== 'string' || !TENANT_PATTERN.test(e.tenant) || typeof e.admin !== 'boolean' || typeof e.tid !== 'string') return 'malformed envelope';
      if (typeof e.entry !== 'string' || typeof e.method !== 'string' || typeof e.path !== 'string' || typeof e.body !== 'string') return 'malformed envelope';
      if (!Number.isSafeInteger(e.boot) || e.boot < 0 || !Number.isSafeInteger(e.seq) || e.seq < 1) return 'malformed envelope';
      return e;
    } catch {
      return 'malformed envelope';
    }
  }
}

/** `base64url(JSON).base64url(Ed25519 signature of those JSON bytes)`. Exported for tests that forge envelopes. */
export function encodeEnvelope(envelope: object, privateKey: KeyObject): string {
  const bytes = Buffer.from(JSON.stringify(envelope));
  return `${bytes.toString('base64url')}.${sign(null, bytes, privateKey).toString('base64url')}`;
}

/** An Ed25519 private key object from a hyperdht key pair. */
export function ed25519PrivateKey(keyPair: { publicKey: Buffer; secretKey: Buffer }): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: keyPair.secretKey.subarray(0, 32).toString('base64url'), x: keyPair.publicKey.toString('base64url') }, format: 'jwk' });
}

function digest(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}
