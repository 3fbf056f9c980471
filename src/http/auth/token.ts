/**
 * Signed, stateless bearer tokens: JWTs (RFC 7519) in the JWS compact serialization, signed with
 * Ed25519 (`alg: EdDSA`, RFC 8037) by an issuer key named in the header (`kid`: its RFC 7638
 * thumbprint). Claims: `jti` (the token id that revocations, the audit log and rate limits name),
 * `tenant`, `admin`, `iat`, `exp` (optional) and `iss` (the mesh key of the node that issued it,
 * or `offline` for the token CLI).
 *
 * Members verify with the issuers' public keys (token-keys.ts) but cannot sign: only a holder of
 * an issuer's private key mints tokens. Signing and verification are node:crypto's Ed25519, which
 * is synchronous as the request path is (a JOSE library's WebCrypto API is asynchronous); the
 * compact serialization is three base64url parts, and `alg` is pinned to EdDSA. Why signed tokens
 * and not a replicated token table: docs/security.md.
 *
 * @example
 *   const issuer = generateIssuerKey();
 *   const token = signToken(issuer, newClaims({ tenant: 'acme', admin: false, expiresInSec: 86400 }));
 *   const checked = verifyToken((kid) => (kid === issuer.kid ? issuer.publicKey : undefined), token); // { ok: true, claims } or { ok: false, reason }
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject, randomBytes, sign, verify } from 'node:crypto';

/** Longer headers are refused before any parsing or signature check. */
export const MAX_TOKEN_LENGTH = 2048;
export const TOKEN_ALG = 'EdDSA';
/** `iss` of a token the token CLI signed offline. */
export const OFFLINE_ISSUER = 'offline';
/** Tenant names: what a path segment, a log field and an owner column accept without escaping. */
export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const TID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;
const KID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
const ISS_PATTERN = /^([0-9a-f]{64}|offline)$/;

export interface TokenClaims {
  /** Random token id (JWT `jti`): what revocations, audit lines and rate limits name. */
  tid: string;
  tenant: string;
  admin: boolean;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch; absent = until revoked. */
  exp?: number;
  /** Who issued it: a node's mesh key, or `offline`. */
  iss?: string;
}

/** An issuer's key pair; `kid` is the RFC 7638 thumbprint of its public JWK. */
export interface IssuerKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export type TokenFailure = 'malformed' | 'bad-signature' | 'unknown-key' | 'expired';
export type TokenCheck = { ok: true; claims: TokenClaims; kid: string } | { ok: false; reason: TokenFailure };

/** RFC 7638 thumbprint of an Ed25519 public key (members, alphabetical, no spaces). */
export function keyId(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest('base64url');
}

export function generateIssuerKey(): IssuerKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { kid: keyId(publicKey), privateKey, publicKey };
}

/** The private JWK of an issuer key (what `--issuer-key` files hold), with its kid. */
export function issuerJwk(key: IssuerKey): JsonWebKey {
  return { ...key.privateKey.export({ format: 'jwk' }), kid: key.kid, alg: TOKEN_ALG, use: 'sig' };
}

/** The public JWK of a key (what a `--token-keys` JWKS lists). */
export function publicJwk(publicKey: KeyObject): JsonWebKey {
  return { ...publicKey.export({ format: 'jwk' }), kid: keyId(publicKey), alg: TOKEN_ALG, use: 'sig' };
}

/** An issuer key from its private JWK; throws when it is not an Ed25519 private key. */
export function issuerKeyFromJwk(jwk: JsonWebKey): IssuerKey {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string') throw new Error('an issuer key is an Ed25519 private JWK (kty OKP, crv Ed25519, d)');
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  const publicKey = createPublicKey(privateKey);
  return { kid: keyId(publicKey), privateKey, publicKey };
}

/** A trusted public key from its JWK (the kid is recomputed, never taken as given). */
export function publicKeyFromJwk(jwk: JsonWebKey): { kid: string; publicKey: KeyObject } {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error('a token key is an Ed25519 public JWK (kty OKP, crv Ed25519, x)');
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  return { kid: keyId(publicKey), publicKey };
}

/** A random token id; never one starting with `-`, which a command line (`npm run token -- revoke <tid>`) would take for an option. */
export function newTokenId(): string {
  for (;;) {
    const tid = randomBytes(12).toString('base64url');
    if (!tid.startsWith('-')) return tid;
  }
}

export function newClaims(opts: { tenant: string; admin: boolean; expiresInSec?: number; now?: number; iss?: string }): TokenClaims {
  if (!TENANT_PATTERN.test(opts.tenant)) throw new RangeError(`tenant ${JSON.stringify(opts.tenant)}: letters, digits, _ . - (up to 63, starting with a letter or digit)`);
  const iat = Math.floor((opts.now ?? Date.now()) / 1000);
  const claims: TokenClaims = { tid: newTokenId(), tenant: opts.tenant, admin: opts.admin, iat };
  if (opts.expiresInSec !== undefined) claims.exp = iat + opts.expiresInSec;
  if (opts.iss !== undefined) claims.iss = opts.iss;
  return claims;
}

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

export function signToken(key: Pick<IssuerKey, 'kid' | 'privateKey'>, claims: TokenClaims): string {
  const { tid, ...rest } = claims;
  const signed = `${b64({ alg: TOKEN_ALG, kid: key.kid, typ: 'JWT' })}.${b64({ jti: tid, ...rest })}`;
  return `${signed}.${sign(null, Buffer.from(signed), key.privateKey).toString('base64url')}`;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** The kid a token names, without checking anything else (for display and routing only). */
export function tokenKeyId(token: string): string | undefined {
  const header = parseJson(token.split('.')[0] ?? '');
  return typeof header?.['kid'] === 'string' ? header['kid'] : undefined;
}

/** Checks format, `alg`, signature with the key its kid names, and expiry. Key and token revocations are the verifier's. */
export function verifyToken(keyFor: (kid: string) => KeyObject | undefined, token: string, nowMs = Date.now()): TokenCheck {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return { ok: false, reason: 'malformed' };
  const header = parseJson(parts[0]!);
  if (!header || header['alg'] !== TOKEN_ALG || typeof header['kid'] !== 'string' || !KID_PATTERN.test(header['kid'])) return { ok: false, reason: 'malformed' };
  const key = keyFor(header['kid']);
  if (!key) return { ok: false, reason: 'unknown-key' };
  // The signature's own spelling is checked too: base64url decoders ignore the unused low bits
  // of the last character, so several spellings would decode to the same 64 bytes.
  const signature = Buffer.from(parts[2]!, 'base64url');
  if (signature.length !== 64 || signature.toString('base64url') !== parts[2]) return { ok: false, reason: 'bad-signature' };
  if (!verify(null, Buffer.from(`${parts[0]}.${parts[1]}`), key, signature)) return { ok: false, reason: 'bad-signature' };
  const claims = claimsOf(parseJson(parts[1]!));
  if (!claims) return { ok: false, reason: 'malformed' };
  if (claims.exp !== undefined && nowMs >= claims.exp * 1000) return { ok: false, reason: 'expired' };
  return { ok: true, claims, kid: header['kid'] };
}

/** The claims of a token without checking its signature (for display only). */
export function peekClaims(token: string): TokenClaims | undefined {
  const parts = token.split('.');
  return parts.length === 3 ? claimsOf(parseJson(parts[1]!)) : undefined;
}

function parseJson(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function claimsOf(c: Record<string, unknown> | undefined): TokenClaims | undefined {
  if (!c) return undefined;
  if (typeof c['jti'] !== 'string' || !TID_PATTERN.test(c['jti'])) return undefined;
  if (typeof c['tenant'] !== 'string' || !TENANT_PATTERN.test(c['tenant'])) return undefined;
  if (typeof c['admin'] !== 'boolean' || !Number.isSafeInteger(c['iat'])) return undefined;
  if (c['exp'] !== undefined && !Number.isSafeInteger(c['exp'])) return undefined;
  if (c['iss'] !== undefined && (typeof c['iss'] !== 'string' || !ISS_PATTERN.test(c['iss']))) return undefined;
  const claims: TokenClaims = { tid: c['jti'], tenant: c['tenant'], admin: c['admin'], iat: c['iat'] as number };
  if (c['exp'] !== undefined) claims.exp = c['exp'] as number;
  if (c['iss'] !== undefined) claims.iss = c['iss'] as string;
  return claims;
}

/** `30d`, `12h`, `15m`, `45s` or a number of seconds → seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*([smhdw]?)$/.exec(text.trim());
  if (!m) throw new RangeError(`duration ${JSON.stringify(text)}: a number followed by s, m, h, d or w (e.g. 30d)`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as '' | 's' | 'm' | 'h' | 'd' | 'w'];
  const seconds = Number(m[1]) * unit;
  if (seconds <= 0 || !Number.isSafeInteger(seconds)) throw new RangeError(`duration ${JSON.stringify(text)} must be positive`);
  return seconds;
}
