/**
 * Signed, stateless bearer tokens: `dsc1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`.
 *
 * Every node of a mesh derives the same signing key from the cluster secret (HKDF-SHA256), so a
 * token issued anywhere (by a node, or offline by `npm run token`) verifies everywhere without a
 * shared store; only revocations and quotas are replicated (auth-replication.ts). A node outside
 * any mesh signs with a random key kept in its data directory. Why signed tokens and not a
 * replicated token table: docs/security.md.
 *
 * @example
 *   const key = signingKeyFromSecret('cluster secret');
 *   const token = signToken(key, newClaims({ tenant: 'acme', admin: false, expiresInSec: 86400 }));
 *   const checked = verifyToken(key, token); // { ok: true, claims } or { ok: false, reason }
 */
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const TOKEN_PREFIX = 'dsc1';
/** Longer headers are refused before any parsing or HMAC. */
export const MAX_TOKEN_LENGTH = 2048;
export const KEY_FILE = 'auth-key';
const HKDF_SALT = 'discovery-auth/v1';
const HKDF_INFO = 'token-signing';
/** Tenant names: what a path segment, a log field and an owner column accept without escaping. */
export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const TID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

export interface TokenClaims {
  /** Random token id: what revocations, audit lines and rate limits name. */
  tid: string;
  tenant: string;
  admin: boolean;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch; absent = until revoked. */
  exp?: number;
}

export type TokenFailure = 'malformed' | 'bad-signature' | 'expired';
export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: TokenFailure };

/** The signing key of a mesh: every member derives the same one from the cluster secret. */
export function signingKeyFromSecret(secret: string | Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, 32));
}

/** A node outside any mesh: a random 32-byte key in `<dataDir>/auth-key` (mode 0600), created on first use. */
export function loadOrCreateStandaloneKey(dataDir: string): Buffer {
  const file = join(dataDir, KEY_FILE);
  try {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    if (key.length !== 32) throw new Error(`${file}: not a 32-byte hex key`);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, key.toString('hex'), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return key;
}

/** Short public fingerprint of a key, to tell which key a data directory's tokens were signed with. */
export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update('discovery-auth/fingerprint').update(key).digest('hex').slice(0, 16);
}

export function newTokenId(): string {
  return randomBytes(12).toString('base64url');
}

export function newClaims(opts: { tenant: string; admin: boolean; expiresInSec?: number; now?: number }): TokenClaims {
  if (!TENANT_PATTERN.test(opts.tenant)) throw new RangeError(`tenant ${JSON.stringify(opts.tenant)}: letters, digits, _ . - (up to 63, starting with a letter or digit)`);
  const iat = Math.floor((opts.now ?? Date.now()) / 1000);
  const claims: TokenClaims = { tid: newTokenId(), tenant: opts.tenant, admin: opts.admin, iat };
  if (opts.expiresInSec !== undefined) claims.exp = iat + opts.expiresInSec;
  return claims;
}

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(`${TOKEN_PREFIX}.`).update(payload).digest();
}

export function signToken(key: Buffer, claims: TokenClaims): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${TOKEN_PREFIX}.${payload}.${mac(key, payload).toString('base64url')}`;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** Checks format, signature (constant time) and expiry. Revocation is the token store's. */
export function verifyToken(key: Buffer, token: string, nowMs = Date.now()): TokenCheck {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || !B64URL.test(parts[1]!) || !B64URL.test(parts[2]!)) return { ok: false, reason: 'malformed' };
  // Compared as text: base64url decoding ignores the unused low bits of the last character, so
  // comparing decoded bytes would accept several spellings of one signature.
  const given = Buffer.from(parts[2]!);
  const expected = Buffer.from(mac(key, parts[1]!).toString('base64url'));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
  const claims = parseClaims(parts[1]!);
  if (!claims) return { ok: false, reason: 'malformed' };
  if (claims.exp !== undefined && nowMs >= claims.exp * 1000) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}

/** The claims of a token without checking its signature (for display only). */
export function peekClaims(token: string): TokenClaims | undefined {
  const parts = token.split('.');
  return parts.length === 3 && parts[0] === TOKEN_PREFIX ? parseClaims(parts[1]!) : undefined;
}

function parseClaims(payload: string): TokenClaims | undefined {
  let c: Partial<TokenClaims>;
  try {
    c = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<TokenClaims>;
  } catch {
    return undefined;
  }
  if (!c || typeof c !== 'object') return undefined;
  if (typeof c.tid !== 'string' || !TID_PATTERN.test(c.tid)) return undefined;
  if (typeof c.tenant !== 'string' || !TENANT_PATTERN.test(c.tenant)) return undefined;
  if (typeof c.admin !== 'boolean' || !Number.isInteger(c.iat)) return undefined;
  if (c.exp !== undefined && !Number.isInteger(c.exp)) return undefined;
  const claims: TokenClaims = { tid: c.tid, tenant: c.tenant, admin: c.admin, iat: c.iat! };
  if (c.exp !== undefined) claims.exp = c.exp;
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
