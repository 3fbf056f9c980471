import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateIssuerKey, type IssuerKey, newClaims, newTokenId, parseDuration, signToken, tokenKeyId, verifyToken } from '../../src/http/auth/token.js';

const issuer = generateIssuerKey();
const trusting = (...keys: IssuerKey[]) => (kid: string) => keys.find((k) => k.kid === kid)?.publicKey;
const keyFor = trusting(issuer);

describe('signed tokens (JWS, EdDSA)', () => {
  it('verify with the public key their kid names, not with another; a kid nobody trusts is refused', () => {
    const t = signToken(issuer, newClaims({ tenant: 'acme', admin: false }));
    expect(t.split('.')).toHaveLength(3);
    expect(JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'EdDSA', kid: issuer.kid, typ: 'JWT' });
    expect(tokenKeyId(t)).toBe(issuer.kid);
    expect(verifyToken(keyFor, t)).toMatchObject({ ok: true, kid: issuer.kid, claims: { tenant: 'acme', admin: false } });
    const other = generateIssuerKey();
    expect(verifyToken(trusting(other), t)).toEqual({ ok: false, reason: 'unknown-key' });
    // The trusted kid with another key's signature.
    const forged = signToken({ kid: issuer.kid, privateKey: other.privateKey }, newClaims({ tenant: 'acme', admin: true }));
    expect(verifyToken(keyFor, forged)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('verification needs only the public key: a member cannot sign with what it verifies with', () => {
    const t = signToken(issuer, newClaims({ tenant: 'acme', admin: false }));
    expect(verifyToken(keyFor, t).ok).toBe(true);
    expect(() => signToken({ kid: issuer.kid, privateKey: issuer.publicKey }, newClaims({ tenant: 'acme', admin: true }))).toThrow();
  });

  it('rotation: tokens of the old key stay valid while both are trusted, and only then', () => {
    const next = generateIssuerKey();
    const old = signToken(issuer, newClaims({ tenant: 'acme', admin: false }));
    const fresh = signToken(next, newClaims({ tenant: 'acme', admin: false }));
    expect(verifyToken(trusting(issuer, next), old).ok).toBe(true);
    expect(verifyToken(trusting(issuer, next), fresh).ok).toBe(true);
    expect(verifyToken(trusting(next), old)).toEqual({ ok: false, reason: 'unknown-key' });
  });

  it('expire at exp', () => {
    const t = signToken(issuer, newClaims({ tenant: 'acme', admin: false, expiresInSec: 60, now: 1_000_000_000_000 }));
    expect(verifyToken(keyFor, t, 1_000_000_059_000).ok).toBe(true);
    expect(verifyToken(keyFor, t, 1_000_000_060_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('regression: another spelling of the signature (unused low bits of its last base64url character) is refused', () => {
    for (let i = 0; i < 20; i++) {
      const t = signToken(issuer, newClaims({ tenant: 'acme', admin: false }));
      const last = t.at(-1)!;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
      expect(verifyToken(keyFor, `${t.slice(0, -1)}${sibling}`).ok).toBe(false);
    }
  });

  it('refuse malformed input and other algorithms without throwing', () => {
    const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const claims = b64({ jti: 'abcdefghijkl', tenant: 'acme', admin: true, iat: 1 });
    for (const bad of ['', 'a.b', 'a..b', `${'A'.repeat(5000)}.x.y`, '!!.??.x', `${b64({ alg: 'none', kid: issuer.kid })}.${claims}.`, `${b64({ alg: 'HS256', kid: issuer.kid })}.${claims}.AAAA`, `${b64({ alg: 'EdDSA' })}.${claims}.AAAA`, randomBytes(40).toString('latin1')]) {
      expect(verifyToken(keyFor, bad).ok).toBe(false);
    }
    expect(() => newClaims({ tenant: '../etc', admin: false })).toThrow(RangeError);
    const noTenant = b64({ jti: 'abcdefghijkl', tenant: '../etc', admin: false, iat: 1 });
    expect(verifyToken(keyFor, `${b64({ alg: 'EdDSA', kid: issuer.kid })}.${noTenant}.x`).ok).toBe(false);
  });

  it('regression: a token id never starts with "-" (the token command line took one for an option)', () => {
    const ids = Array.from({ length: 5000 }, () => newTokenId());
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(new Set(ids.map((id) => id[0])).size).toBeGreaterThan(32);
  });

  it('durations', () => {
    expect(parseDuration('30d')).toBe(30 * 86400);
    expect(parseDuration('12h')).toBe(43200);
    expect(parseDuration('90')).toBe(90);
    expect(() => parseDuration('0d')).toThrow();
    expect(() => parseDuration('soon')).toThrow();
  });
});
