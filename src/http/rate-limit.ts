/**
 * Per-token rate limits: a token bucket per authenticated token (`res.locals.principal.tokenId`),
 * or per client address for requests without one. A bucket holds `burst` requests and refills at
 * `ratePerSecond`; an empty bucket answers 429 RATE_LIMITED with `Retry-After` (whole seconds).
 * Authentication failures (401) have a bucket of their own per client address (`failureLimit`,
 * before authentication): once it is empty, the address's requests are answered 429 before any
 * token is looked at, so a flood of forged tokens costs no signature check. Requests that members
 * forwarded to this node were limited at their entry node and are not counted again.
 *
 * @example
 *   app.use(failureLimit({ ratePerSecond: 50, burst: 100 }));  // before authentication
 *   app.use(authenticate(…));                                  // sets res.locals.principal
 *   app.use(rateLimit({ ratePerSecond: 50, burst: 100 }));
 */
import type { NextFunction, Request, Response } from 'express';
import { LRUCache } from 'lru-cache';
import { OcciError } from '../occi/errors.js';
import { clientAddress, isInternal } from './limits.js';

export interface RateLimitOptions {
  /** Sustained requests per second per token (or address). */
  ratePerSecond: number;
  /** Requests a full bucket allows at once. */
  burst: number;
  /** Authentication failures per second per client address (default 5), and at once (default 50). */
  failuresPerSecond?: number;
  failureBurst?: number;
  /** Buckets kept at most; the least recently used are dropped first. */
  maxKeys?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

export const DEFAULT_RATE_PER_SECOND = 50;
export const DEFAULT_BURST = 100;
export const DEFAULT_MAX_KEYS = 100_000;
/** A client that mistyped a token retries a few times; a flood of forged ones is cut after 50. */
export const DEFAULT_FAILURES_PER_SECOND = 5;
export const DEFAULT_FAILURE_BURST = 50;

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets by key; `take` spends one token or says how long to wait for one. */
export class TokenBuckets {
  /** Least recently used dropped first: an idle bucket has refilled, as good as absent. */
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly now: () => number;

  constructor(private readonly opts: RateLimitOptions) {
    if (!(opts.ratePerSecond > 0) || !(opts.burst >= 1)) throw new RangeError('a rate limit needs ratePerSecond > 0 and burst ≥ 1');
    this.now = opts.now ?? Date.now;
    this.buckets = new LRUCache({ max: opts.maxKeys ?? DEFAULT_MAX_KEYS });
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Without spending: the seconds until the bucket holds a request, when it is empty now. */
  peek(key: string): { ok: true } | { ok: false; retryAfterSec: number } {
    const b = this.buckets.peek(key);
    if (!b) return { ok: true };
    const tokens = Math.min(this.opts.burst, b.tokens + ((this.now() - b.at) / 1000) * this.opts.ratePerSecond);
    return tokens >= 1 ? { ok: true } : { ok: false, retryAfterSec: Math.max(1, Math.ceil((1 - tokens) / this.opts.ratePerSecond)) };
  }

  /** Spends one request; when the bucket is empty, the seconds until it holds one again. */
  take(key: string): { ok: true } | { ok: false; retryAfterSec: number } {
    const now = this.now();
    const { ratePerSecond, burst } = this.opts;
    const b = this.buckets.get(key);
    const tokens = b ? Math.min(burst, b.tokens + ((now - b.at) / 1000) * ratePerSecond) : burst;
    if (tokens < 1) {
      b!.tokens = tokens;
      b!.at = now;
      return { ok: false, retryAfterSec: Math.max(1, Math.ceil((1 - tokens) / ratePerSecond)) };
    }
    if (b) {
      b.tokens = tokens - 1;
      b.at = now;
    } else this.buckets.set(key, { tokens: tokens - 1, at: now });
    return { ok: true };
  }
}

/** The key of a request's bucket: its token, else its client address. */
export function rateLimitKey(req: Request, res: Response): string {
  const tokenId = (res.locals['principal'] as { tokenId?: string } | undefined)?.tokenId;
  return tokenId ? `token:${tokenId}` : `address:${clientAddress(req.socket)}`;
}

/** Express middleware factory for authentication failures; see the module comment. Place it before authentication. */
export function failureLimit(opts: RateLimitOptions) {
  const ratePerSecond = opts.failuresPerSecond ?? DEFAULT_FAILURES_PER_SECOND;
  const burst = opts.failureBurst ?? DEFAULT_FAILURE_BURST;
  const failures = new TokenBuckets({ ratePerSecond, burst, maxKeys: opts.maxKeys, now: opts.now });
  return (req: Request, res: Response, next: NextFunction): void => {
    if (isInternal(req)) return next();
    const key = clientAddress(req.socket);
    const open = failures.peek(key);
    if (!open.ok) {
      res.setHeader('Retry-After', String(open.retryAfterSec));
      return next(new OcciError('RATE_LIMITED', `too many failed authentications from this address; retry in ${open.retryAfterSec} s (limit: ${ratePerSecond} per second, bursts of ${burst})`));
    }
    res.once('finish', () => {
      if (res.statusCode === 401) failures.take(key);
    });
    next();
  };
}

/** Express middleware factory; see the module comment. Place it after authentication. */
export function rateLimit(opts: RateLimitOptions) {
  const buckets = new TokenBuckets(opts);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (isInternal(req)) return next();
    const taken = buckets.take(rateLimitKey(req, res));
    if (taken.ok) return next();
    res.setHeader('Retry-After', String(taken.retryAfterSec));
    next(new OcciError('RATE_LIMITED', `too many requests; retry in ${taken.retryAfterSec} s (limit: ${opts.ratePerSecond} per second, bursts of ${opts.burst})`));
  };
}
