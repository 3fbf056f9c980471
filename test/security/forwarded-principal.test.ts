import { createHash, randomBytes } from 'node:crypto';
import type { Request } from 'express';
import DHT from 'hyperdht';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/http/auth/authenticate.js';
import { ENVELOPE_HEADER, ForwardedPrincipals } from '../../src/http/auth/forwarded-principal.js';
import { newClaims, signToken } from '../../src/http/auth/token.js';
import { TokenStore } from '../../src/http/auth/token-store.js';
import type { ForwardedRequest } from '../../src/mesh/http-forwarding.js';

/** Two members' envelope code without a mesh: the entry seals, the target opens, on a settable clock. */
function pair(opts: { replayCacheSize?: number } = {}) {
  const key = randomBytes(32);
  const store = new TokenStore(':memory:');
  const verifier = new TokenVerifier(key, store);
  const claims = newClaims({ tenant: 'acme', admin: false });
  const token = signToken(key, claims);
  let now = 1_800_000_000_000;
  const clock = () => now;
  const entryPair = DHT.keyPair();
  const logger = pino({ level: 'silent' });
  const principal = { tenant: 'acme', admin: false, tokenId: claims.tid };
  const entry = new ForwardedPrincipals({ mode: 'token', keyPair: entryPair, verifier, logger, principalOf: () => principal, now: clock });
  const target = new ForwardedPrincipals({ mode: 'token', keyPair: DHT.keyPair(), verifier, logger, principalOf: () => undefined, now: clock, ...opts });
  const entryKey = entryPair.publicKey.toString('hex');
  const seal = (path = '/compute/x'): ForwardedRequest => {
    const req: ForwardedRequest = { method: 'GET', path, headers: { 'x-auth-token': token }, body: Buffer.alloc(0) };
    return { ...req, headers: { ...req.headers, ...entry.seal({} as Request, req, entryKey) } };
  };
  /** The decision the target's app gets with the request (src/http/forwarded-request.ts). */
  const decide = (req: ForwardedRequest, from = entryKey) => target.open(req, from).decision;
  return { seal, decide, tick: (ms: number) => (now += ms), store, claims };
}

describe('forwarded principal envelopes', () => {
  it('carry the principal the entry node authenticated', () => {
    const { seal, decide } = pair();
    expect(decide(seal())).toEqual({ principal: { tenant: 'acme', admin: false, tokenId: expect.any(String) } });
  });

  it('are refused from another member than the entry node, and when the clock is 30 s off', () => {
    const { seal, decide, tick } = pair();
    expect(decide(seal(), DHT.keyPair().publicKey.toString('hex'))?.failure).toMatch(/bad envelope signature/);
    const late = seal();
    tick(30_001);
    expect(decide(late)?.failure).toMatch(/too old/);
  });

  it('a bounded replay cache: past its size the oldest nonces leave, and envelopes not newer than them are refused', () => {
    const { seal, decide, tick } = pair({ replayCacheSize: 3 });
    const sent = [0, 1, 2, 3].map(() => {
      tick(10);
      return seal();
    });
    for (const s of sent) expect(decide(s)).toHaveProperty('principal');
    // The first nonce left the cache (size 3): its replay is refused by the time floor, not forgotten.
    expect(decide(sent[0]!)?.failure).toMatch(/replayed/);
    for (const s of sent.slice(1)) expect(decide(s)?.failure).toMatch(/replayed/);
    tick(10);
    expect(decide(seal())).toHaveProperty('principal');
  });

  it('a revoked token is refused even inside a valid envelope', () => {
    const { seal, decide, store, claims } = pair();
    store.revoke(claims.tid);
    expect(decide(seal())?.failure).toMatch(/token revoked/);
  });

  it('the envelope is bound to the body digest', () => {
    const { seal, decide } = pair();
    const req = seal();
    const env = JSON.parse(Buffer.from(String(req.headers[ENVELOPE_HEADER]).split('.')[0]!, 'base64url').toString());
    expect(env.body).toBe(createHash('sha256').update('').digest('hex'));
    expect(decide({ ...req, body: Buffer.from('x') })?.failure).toMatch(/body does not match/);
  });
});
