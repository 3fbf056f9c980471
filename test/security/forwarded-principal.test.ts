import { createHash } from 'node:crypto';
import type { Request } from 'express';
import DHT from 'hyperdht';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/http/auth/authenticate.js';
import { ENVELOPE_HEADER, ForwardedPrincipals } from '../../src/http/auth/forwarded-principal.js';
import { generateIssuerKey, newClaims, signToken } from '../../src/http/auth/token.js';
import { TokenStore } from '../../src/http/auth/token-store.js';
import type { ForwardedRequest } from '../../src/mesh/http-forwarding.js';

/** Two members' envelope code without a mesh: the entry seals, the target opens, each on its own wall clock. */
function pair(opts: { replayWindow?: number } = {}) {
  const key = generateIssuerKey();
  const store = new TokenStore(':memory:');
  const verifier = new TokenVerifier({ keys: { publicKey: (kid) => (kid === key.kid ? key.publicKey : undefined) }, store });
  const claims = newClaims({ tenant: 'acme', admin: false });
  const token = signToken(key, claims);
  const entryPair = DHT.keyPair();
  const logger = pino({ level: 'silent' });
  const principal = { tenant: 'acme', admin: false, tokenId: claims.tid };
  let entryBoot = 7;
  const entryAt = (boot: number) => new ForwardedPrincipals({ mode: 'token', keyPair: entryPair, boot, verifier, logger, principalOf: () => principal });
  let entry = entryAt(entryBoot);
  const target = new ForwardedPrincipals({ mode: 'token', keyPair: DHT.keyPair(), boot: 1, verifier, logger, principalOf: () => undefined, ...opts });
  const entryKey = entryPair.publicKey.toString('hex');
  const seal = (path = '/compute/x'): ForwardedRequest => {
    const req: ForwardedRequest = { method: 'GET', path, headers: { 'x-auth-token': token }, body: Buffer.alloc(0) };
    return { ...req, headers: { ...req.headers, ...entry.seal({} as Request, req, entryKey) } };
  };
  /** The decision the target's app gets with the request (src/http/forwarded-request.ts). */
  const decide = (req: ForwardedRequest, from = entryKey) => target.open(req, from).decision;
  /** The entry node restarts: its boot counter grows, its sequence starts again. */
  const restartEntry = () => (entry = entryAt(++entryBoot));
  return { seal, decide, restartEntry, store, claims };
}

describe('forwarded principal envelopes', () => {
  it('carry the principal the entry node authenticated', () => {
    const { seal, decide } = pair();
    expect(decide(seal())).toEqual({ principal: { tenant: 'acme', admin: false, tokenId: expect.any(String) } });
  });

  it('are refused from another member than the entry node; no wall clock is compared (skewed clocks do not matter)', () => {
    const { seal, decide } = pair();
    expect(decide(seal(), DHT.keyPair().publicKey.toString('hex'))?.failure).toMatch(/bad envelope signature/);
    const realNow = Date.now;
    try {
      // The entry node's clock 10 minutes behind, then ahead: the envelopes carry no time at all.
      Date.now = () => realNow() - 600_000;
      const behind = seal();
      Date.now = () => realNow() + 600_000;
      const ahead = seal();
      Date.now = realNow;
      expect(decide(behind)).toHaveProperty('principal');
      expect(decide(ahead)).toHaveProperty('principal');
      expect(JSON.parse(Buffer.from(String(ahead.headers[ENVELOPE_HEADER]).split('.')[0]!, 'base64url').toString())).not.toHaveProperty('ts');
    } finally {
      Date.now = realNow;
    }
  });

  it('a sliding window per entry node: out of order within it is served once, a replay or a number below it is refused', () => {
    const { seal, decide } = pair({ replayWindow: 8 });
    const sent = Array.from({ length: 12 }, () => seal());
    // Delivered out of order: the newest first, then older ones still inside the window.
    expect(decide(sent[9]!)).toHaveProperty('principal');
    for (const s of [sent[4]!, sent[8]!, sent[2]!]) expect(decide(s)).toHaveProperty('principal');
    for (const s of [sent[9]!, sent[4]!]) expect(decide(s)?.failure).toMatch(/replayed/);
    // Below the window (top 10, size 8: numbers ≤ 2 are out): refused, not forgotten.
    expect(decide(sent[1]!)?.failure).toMatch(/below the window/);
    expect(decide(sent[0]!)?.failure).toMatch(/below the window/);
    expect(decide(sent[11]!)).toHaveProperty('principal');
  });

  it('a restarted entry node (next boot) starts a new window; envelopes of its earlier start are refused', () => {
    const { seal, decide, restartEntry } = pair();
    const before = [seal(), seal()];
    expect(decide(before[0]!)).toHaveProperty('principal');
    restartEntry();
    const after = seal();
    expect(decide(after)).toHaveProperty('principal');
    expect(decide(before[1]!)?.failure).toMatch(/earlier start of the entry node/);
    expect(decide(after)?.failure).toMatch(/replayed/);
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
