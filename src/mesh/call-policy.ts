/** Resilience of mesh calls (cockatiel): retries with exponential backoff and jitter, and a circuit breaker per member. */
import {
  BrokenCircuitError,
  circuitBreaker,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  type CircuitBreakerPolicy,
  type IBackoffFactory,
  type IRetryBackoffContext,
} from 'cockatiel';
import type { MeshConfig } from './config.js';
import { MeshError } from './errors.js';

export interface CallPolicyOptions extends Pick<MeshConfig, 'retryDelayMs' | 'retryMaxDelayMs' | 'breakerConsecutiveFailures' | 'breakerHalfOpenAfterMs'> {
  /** The mesh clock (ms), against which deadlines are set. */
  now: () => number;
  /** Whether retrying is pointless (the mesh is closing). */
  stopped: () => boolean;
}

/** Failures that say the member did not answer: they count towards opening its breaker. */
function isSilence(err: Error): boolean {
  return err instanceof MeshError && (err.code === 'TIMEOUT' || err.code === 'UNREACHABLE');
}

/** The error a call refused by an open breaker fails with. */
export function circuitOpen(peerKey: string, cause: BrokenCircuitError): MeshError {
  return MeshError.UNREACHABLE(peerKey, cause, 'its calls keep failing (circuit open)');
}

export class CallPolicy {
  private readonly backoff: IBackoffFactory<IRetryBackoffContext<unknown>>;
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();

  constructor(private readonly opts: CallPolicyOptions) {
    this.backoff = new ExponentialBackoff({ initialDelay: opts.retryDelayMs, maxDelay: opts.retryMaxDelayMs });
  }

  /**
   * Runs `attempt`, then retries it (at most `retries` times, after a backoff) while it fails with
   * a retryable MeshError, no breaker refused it, and the deadline leaves room for the backoff.
   */
  async retrying<T>(retries: number, deadline: number, attempt: () => Promise<T>, onRetry: (err: MeshError, attemptNo: number) => void): Promise<T> {
    const mayRetry = (err: Error): boolean =>
      err instanceof MeshError &&
      err.retryable &&
      !(err.cause instanceof BrokenCircuitError) &&
      !this.opts.stopped() &&
      deadline - this.opts.now() > this.opts.retryMaxDelayMs;
    // Unreferenced backoff timers, like every other upkeep timer of the mesh.
    const policy = retry(handleWhen(mayRetry), { maxAttempts: retries, backoff: this.backoff }).dangerouslyUnref();
    policy.onRetry((r) => {
      if ('error' in r) onRetry(r.error as MeshError, r.attempt);
    });
    return policy.execute(() => attempt());
  }

  /**
   * Runs `send` (one exchange with member `peerKey`) through that member's breaker. While the
   * breaker is open, and while its trial call is out, rejects with cockatiel's BrokenCircuitError
   * without calling `send`: a call never waits behind another one past its own deadline.
   */
  guarded<T>(peerKey: string, send: () => Promise<T>): Promise<T> {
    const breaker = this.breakerOf(peerKey);
    if (breaker.state === CircuitState.HalfOpen) return Promise.reject(new BrokenCircuitError());
    return breaker.execute(() => send());
  }

  /** Drops the record of `peerKey`'s failures: it left, or a new connection to it was verified. */
  forget(peerKey: string): void {
    this.breakers.delete(peerKey);
  }

  private breakerOf(peerKey: string): CircuitBreakerPolicy {
    let breaker = this.breakers.get(peerKey);
    if (!breaker) {
      breaker = circuitBreaker(handleWhen(isSilence), {
        halfOpenAfter: this.opts.breakerHalfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.opts.breakerConsecutiveFailures),
      });
      this.breakers.set(peerKey, breaker);
    }
    return breaker;
  }
}
