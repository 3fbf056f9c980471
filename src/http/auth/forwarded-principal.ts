/**
 * The principal of a request forwarded across the mesh, bound to the entry node and the request.
 *
 * The entry node authenticates the client, then forwards the request (with the client's token)
 * and an envelope {tenant, admin, tid, entry, method, path, body digest, ts, nonce} signed with
 * its Ed25519 mesh identity key. The member that serves it checks, before anything runs there:
 * the signature against the key of the member that sent it, `entry` = that member, the method,
 * path and body digest, |ts − now| ≤ 30 s, an unseen nonce, and the token itself (signature,
 * expiry, revocation, and that it names the same tid, tenant and admin flag). A member therefore
 * cannot act as a tenant whose token it was not given, nor replay or retarget another's request.
 * Any failure is a 401 (logged). The decision then reaches the node's own HTTP app with the
 * request, dispatched in-process (src/http/forwarded-request.ts): nothing on the wire carries it.
 *
 * Gathers (collections, query interface) carry the client's token in the principal and each
 * member verifies it again (`gatherPrincipal`).
 *
 * @example
 *   const fp = new ForwardedPrincipals({ keyPair: mesh.keyPair, verifier, logger });
 *   forwarded.headers = { ...forwarded.headers, ...fp.seal(req, forwarded, mesh.key) }; // entry node
 *   const { headers, decision } = fp.open(forwardedRequest, fromKey);                // serving node
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, randomBytes, sign, verify } from 'node:crypto';
import type { Request } from 'express';
import type { Logger } from 'pino';
import type { ForwardedRequest, HttpHeaders } from '../../mesh/http-forwarding.js';
import { LOCAL_ADMIN, type Principal } from '../../occi/request.js';
import { type AuthMode, type AuthPrincipal, credentialIn, principalOfClaims, type TokenVerifier, type TrustedDecision } from './authenticate.js';
import { TENANT_PATTERN } from './token.js';

export const ENVELOPE_HEADER = 'x-discovery-principal';

export const DEFAULT_MAX_SKEW_MS = 30_000;
export const DEFAULT_REPLAY_CACHE_SIZE = 100_000;

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
  /** ms since the epoch */
  ts: number;
  nonce: string;
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
  verifier?: TokenVerifier;
  logger: Logger;
  /** Principal of the request being forwarded (set by the authentication middleware). */
  principalOf: (req: Request) => AuthPrincipal | undefined;
  maxSkewMs?: number;
  replayCacheSize?: number;
  now?: () => number;
}

export class ForwardedPrincipals implements MeshEdgeAuth {
  private readonly privateKey: KeyObject;
  private readonly publicKeys = new Map<string, KeyObject>();
  private readonly seen = new Map<string, number>();
  /** Envelopes at or before this time are refused: their nonces may have left the bounded cache. */
  private floor = 0;
  private readonly maxSkewMs: number;
  private readonly replayCacheSize: number;
  private readonly now: () => number;

  constructor(private readonly opts: ForwardedPrincipalsOptions) {
    this.privateKey = ed25519PrivateKey(opts.keyPair);
    this.maxSkewMs = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    this.replayCacheSize = opts.replayCacheSize ?? DEFAULT_REPLAY_CACHE_SIZE;
    this.now = opts.now ?? Date.now;
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
      ts: this.now(),
      nonce: randomBytes(16).toString('base64url'),
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
    const now = this.now();
    if (Math.abs(now - env.ts) > this.maxSkewMs) return { failure: 'envelope too old or from the future' };
    if (env.ts <= this.floor || this.seen.has(env.nonce)) return { failure: 'envelope replayed' };
    this.remember(env.nonce, env.ts, now);
    const { token } = credentialIn(req.headers);
    const checked = token ? this.opts.verifier!.check(token, now) : { ok: false as const, reason: 'missing' };
    if (!checked.ok) return { failure: `token ${checked.reason}` };
    const c = checked.claims;
    if (c.tid !== env.tid || c.tenant !== env.tenant || c.admin !== env.admin) return { failure: 'envelope does not match the token' };
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
      if (typeof e.ts !== 'number' || typeof e.nonce !== 'string' || e.nonce.length < 16 || e.nonce.length > 64) return 'malformed envelope';
      return e;
    } catch {
      return 'malformed envelope';
    }
  }

  /** Nonces within the time window, bounded; past the bound the oldest leave and raise the floor. */
  private remember(nonce: string, ts: number, now: number): void {
    this.seen.set(nonce, ts);
    if (this.seen.size <= this.replayCacheSize) return;
    for (const [n, t] of this.seen) {
      if (now - t > this.maxSkewMs) this.seen.delete(n);
    }
    while (this.seen.size > this.replayCacheSize) {
      const [n, t] = this.seen.entries().next().value as [string, number];
      this.seen.delete(n);
      this.floor = Math.max(this.floor, t);
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
