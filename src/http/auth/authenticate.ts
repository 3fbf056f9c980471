/**
 * Authentication of every request: `X-Auth-Token: <token>` (rOCCI-cli `--auth token`, Keystone
 * style) or `Authorization: Bearer <token>`. A missing, malformed, forged, expired or revoked
 * token is a 401 with `WWW-Authenticate: Bearer realm="occi"…`, in the negotiated rendering (the
 * app's error path). The principal goes to `res.locals.principal` ({tenant, admin, tokenId}).
 *
 * @example
 *   const verifier = new TokenVerifier({ keys, store });
 *   app.use(authenticate({ mode: 'token', verifier, logger }));
 *   app.use((req, res) => res.json(res.locals.principal)); // { tenant: 'acme', admin: false, tokenId: '…' }
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { OcciError } from '../../occi/errors.js';
import { LOCAL_ADMIN, type Principal } from '../../occi/request.js';
import { type TokenClaims, type TokenFailure, verifyToken } from './token.js';
import type { TokenKeys } from './token-keys.js';
import type { TokenStore } from './token-store.js';

/** A principal as the HTTP layer knows it: who, and by which token. */
export interface AuthPrincipal extends Principal {
  /** Id of the token that authenticated the request; absent with `auth: 'none'`. */
  tokenId?: string;
}

export type AuthMode = 'token' | 'none';
export type AuthFailure = TokenFailure | 'missing' | 'revoked' | 'key-revoked' | 'issuer-revoked' | 'ambiguous' | 'catching-up';

export const AUTH_TOKEN_HEADER = 'x-auth-token';
export const REALM = 'occi';

const FAILURE_TEXT: Record<AuthFailure, string> = {
  missing: 'authentication required: send X-Auth-Token or Authorization: Bearer with a token',
  ambiguous: 'two different tokens in X-Auth-Token and Authorization',
  malformed: 'the token is malformed',
  'bad-signature': 'the token signature is not valid',
  'unknown-key': 'the token is signed with a key this node does not trust',
  expired: 'the token has expired',
  revoked: 'the token has been revoked',
  'key-revoked': 'the token is signed with a revoked key',
  'issuer-revoked': 'the token was issued by a revoked node',
  'catching-up': 'this node is catching up with the revocations of its mesh; retry in a second',
};

export interface TokenVerifierOptions {
  keys: Pick<TokenKeys, 'publicKey'>;
  store: TokenStore;
  /** Whether a node (mesh key) was revoked: the tokens it issued stop counting. */
  nodeRevoked?: (key: string) => boolean;
  /** True while this node may lack revocations (auth-replication.ts): no token is accepted meanwhile. */
  catchingUp?: () => boolean;
}

/** Signature (by a trusted, unrevoked key), expiry and revocation of a token. */
export class TokenVerifier {
  constructor(private readonly opts: TokenVerifierOptions) {}

  check(token: string, nowMs = Date.now()): { ok: true; claims: TokenClaims } | { ok: false; reason: AuthFailure } {
    const { keys, store, nodeRevoked, catchingUp } = this.opts;
    if (catchingUp?.()) return { ok: false, reason: 'catching-up' };
    const checked = verifyToken((kid) => keys.publicKey(kid), token, nowMs);
    if (!checked.ok) return checked;
    if (store.isKeyRevoked(checked.kid)) return { ok: false, reason: 'key-revoked' };
    const iss = checked.claims.iss;
    if (iss !== undefined && nodeRevoked?.(iss)) return { ok: false, reason: 'issuer-revoked' };
    if (store.isRevoked(checked.claims.tid)) return { ok: false, reason: 'revoked' };
    return { ok: true, claims: checked.claims };
  }
}

export function principalOfClaims(claims: TokenClaims): AuthPrincipal {
  return { tenant: claims.tenant, admin: claims.admin, tokenId: claims.tid };
}

/** The token a request carries, from X-Auth-Token or Authorization: Bearer. */
export function credentialIn(headers: Record<string, string | string[] | undefined>): { token?: string; ambiguous?: true } {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.trim();
  const x = first(headers[AUTH_TOKEN_HEADER]);
  const authz = first(headers['authorization']);
  // Other schemes (Basic…) are not ours: ignored, not an error.
  const bearer = authz && /^bearer\s+/i.test(authz) ? authz.replace(/^bearer\s+/i, '').trim() : undefined;
  if (x && bearer !== undefined && bearer !== x) return { ambiguous: true };
  const token = x || bearer;
  return token ? { token } : {};
}

/** `WWW-Authenticate` of a 401 (RFC 6750 §3: no error code when no credential was sent). */
export function challenge(reason: AuthFailure): string {
  if (reason === 'missing') return `Bearer realm="${REALM}"`;
  const error = reason === 'ambiguous' ? 'invalid_request' : 'invalid_token';
  return `Bearer realm="${REALM}", error="${error}", error_description="${FAILURE_TEXT[reason]}"`;
}

export function unauthorized(res: Response, reason: AuthFailure | string): OcciError {
  const known = reason in FAILURE_TEXT;
  res.setHeader('WWW-Authenticate', known ? challenge(reason as AuthFailure) : `Bearer realm="${REALM}", error="invalid_token"`);
  return new OcciError('UNAUTHORIZED', known ? FAILURE_TEXT[reason as AuthFailure] : reason);
}

/** A decision already taken for this request by the node's mesh handler (forwarded requests). */
export interface TrustedDecision {
  principal?: AuthPrincipal;
  failure?: string;
}

export interface AuthenticateOptions {
  mode: AuthMode;
  verifier?: TokenVerifier;
  logger: Logger;
  /**
   * Requests forwarded by a member are dispatched into this node's app already verified by the
   * mesh handler (src/http/forwarded-request.ts); answers its decision, or undefined for any other.
   */
  trusted?: (req: Request) => TrustedDecision | undefined;
}

const credentials = new WeakMap<Principal, string>();

/** The token a principal was authenticated with (for mesh gathers, which re-verify it). */
export function credentialOf(principal: Principal): string | undefined {
  return credentials.get(principal);
}

/** The principal as sent to members in a gather: with its token, which they verify again. */
export function carried(principal: Principal): Principal & { credential?: string } {
  const credential = credentials.get(principal);
  return credential ? { ...principal, credential } : { ...principal };
}

/** Express middleware factory; see the module comment. */
export function authenticate(opts: AuthenticateOptions) {
  const { mode, logger } = opts;
  if (mode === 'token' && !opts.verifier) throw new TypeError('authenticate: token mode needs a verifier');
  return (req: Request, res: Response, next: NextFunction): void => {
    const decided = opts.trusted?.(req);
    if (mode === 'none') {
      res.locals['principal'] = { ...LOCAL_ADMIN } satisfies AuthPrincipal;
      return next();
    }
    if (decided) {
      if (decided.principal) {
        res.locals['principal'] = decided.principal;
        const { token } = credentialIn(req.headers);
        if (token) credentials.set(decided.principal, token);
        return next();
      }
      return next(unauthorized(res, decided.failure ?? 'forwarded request refused'));
    }
    const { token, ambiguous } = credentialIn(req.headers);
    if (ambiguous || !token) return next(unauthorized(res, ambiguous ? 'ambiguous' : 'missing'));
    const checked = opts.verifier!.check(token);
    if (!checked.ok) {
      if (checked.reason === 'catching-up') {
        res.setHeader('Retry-After', '1');
        return next(OcciError.unavailable(FAILURE_TEXT['catching-up']));
      }
      logger.info({ method: req.method, path: req.path, reason: checked.reason }, 'request refused: authentication failed');
      return next(unauthorized(res, checked.reason));
    }
    const principal = principalOfClaims(checked.claims);
    credentials.set(principal, token);
    res.locals['principal'] = principal;
    next();
  };
}
