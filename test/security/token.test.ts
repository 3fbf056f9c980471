import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newClaims, parseDuration, signingKeyFromSecret, signToken, verifyToken } from '../../src/http/auth/token.js';

const key = signingKeyFromSecret('cluster secret');

describe('signed tokens', () => {
  it('verify with the key of the same cluster secret, not with another', () => {
    const t = signToken(key, newClaims({ tenant: 'acme', admin: false }));
    expect(verifyToken(signingKeyFromSecret('cluster secret'), t)).toMatchObject({ ok: true, claims: { tenant: 'acme', admin: false } });
    expect(verifyToken(signingKeyFromSecret('other secret'), t)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('expire at exp', () => {
    const t = signToken(key, newClaims({ tenant: 'acme', admin: false, expiresInSec: 60, now: 1_000_000_000_000 }));
    expect(verifyToken(key, t, 1_000_000_059_000).ok).toBe(true);
    expect(verifyToken(key, t, 1_000_000_060_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('regression: another spelling of the signature (unused low bits of its last base64url character) is refused', () => {
    for (let i = 0; i < 20; i++) {
      const t = signToken(key, newClaims({ tenant: 'acme', admin: false }));
      const last = t.at(-1)!;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
      expect(verifyToken(key, `${t.slice(0, -1)}${sibling}`).ok).toBe(false);
    }
  });

  it('refuse malformed input without throwing', () => {
    for (const bad of ['', 'dsc1', 'dsc1..', 'dsc2.e30.AAAA', `dsc1.${'A'.repeat(5000)}.x`, 'dsc1.!!.??', `dsc1.${Buffer.from('{"tid":1}').toString('base64url')}.x`, randomBytes(40).toString('latin1')]) {
      expect(verifyToken(key, bad).ok).toBe(false);
    }
    const noTenant = { tid: 'abcdefghijkl', tenant: '../etc', admin: false, iat: 1 };
    const payload = Buffer.from(JSON.stringify(noTenant)).toString('base64url');
    expect(() => newClaims({ tenant: '../etc', admin: false })).toThrow(RangeError);
    expect(verifyToken(key, `dsc1.${payload}.x`).ok).toBe(false);
  });

  it('durations', () => {
    expect(parseDuration('30d')).toBe(30 * 86400);
    expect(parseDuration('12h')).toBe(43200);
    expect(parseDuration('90')).toBe(90);
    expect(() => parseDuration('0d')).toThrow();
    expect(() => parseDuration('soon')).toThrow();
  });
});
