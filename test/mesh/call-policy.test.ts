import { BrokenCircuitError } from 'cockatiel';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CallPolicy, type CallPolicyOptions } from '../../src/mesh/call-policy.js';
import { MeshError } from '../../src/mesh/errors.js';

const PEER = 'ab'.repeat(32);
const RETRY_DELAY_MS = 100;
const RETRY_MAX_DELAY_MS = 250;
const FAILURES = 3;
const HALF_OPEN_AFTER_MS = 1000;

function policy(overrides: Partial<CallPolicyOptions> = {}): CallPolicy {
  return new CallPolicy({
    retryDelayMs: RETRY_DELAY_MS,
    retryMaxDelayMs: RETRY_MAX_DELAY_MS,
    breakerConsecutiveFailures: FAILURES,
    breakerHalfOpenAfterMs: HALF_OPEN_AFTER_MS,
    now: () => Date.now(),
    stopped: () => false,
    ...overrides,
  });
}

/** An attempt that fails with the given errors in turn, then answers 'ok'; records when it ran. */
function scripted(...errors: MeshError[]): { attempt: () => Promise<string>; times: number[] } {
  const times: number[] = [];
  let i = 0;
  return {
    times,
    attempt: async () => {
      times.push(Date.now());
      const err = errors[i++];
      if (err) throw err;
      return 'ok';
    },
  };
}

/** Settles `p` while the fake clock runs on by `ms`; resolves with its value or its error. */
async function settle<T>(p: Promise<T>, ms = 5000): Promise<T | unknown> {
  const outcome = p.then(
    (v) => v,
    (e: unknown) => e,
  );
  await vi.advanceTimersByTimeAsync(ms);
  return outcome;
}

const noLog = (): void => undefined;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('call retries (exponential backoff with jitter)', () => {
  it('retries a retryable failure at most `retries` times, each backoff within the cap, then gives the last error', async () => {
    const { attempt, times } = scripted(MeshError.CLOSED('a'), MeshError.UNREACHABLE(PEER), MeshError.CLOSED('c'), MeshError.CLOSED('d'));
    const err = await settle(policy().retrying(2, Date.now() + 5000, attempt, noLog));
    expect(times).toHaveLength(3);
    expect((err as MeshError).message).toBe('c');
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeLessThanOrEqual(RETRY_MAX_DELAY_MS);
  });

  it('answers with the first attempt that succeeds, and says which retry it was', async () => {
    const { attempt, times } = scripted(MeshError.CLOSED('gone'));
    const retried: number[] = [];
    await expect(settle(policy().retrying(2, Date.now() + 5000, attempt, (_e, n) => retried.push(n)))).resolves.toBe('ok');
    expect(times).toHaveLength(2);
    expect(retried).toEqual([1]);
  });

  it('does not retry errors that are answers or timeouts', async () => {
    for (const e of [MeshError.REMOTE_ERROR('boom', 'E'), MeshError.TIMEOUT(10, PEER), MeshError.NOT_MEMBER(PEER), MeshError.TOO_LARGE(2, 1)]) {
      const { attempt, times } = scripted(e);
      expect(await settle(policy().retrying(2, Date.now() + 5000, attempt, noLog))).toBe(e);
      expect(times).toHaveLength(1);
    }
  });

  it('does not retry when the deadline leaves no room for a backoff, once stopped, or when a breaker refused the call', async () => {
    const near = scripted(MeshError.CLOSED('x'));
    await settle(policy().retrying(2, Date.now() + RETRY_MAX_DELAY_MS, near.attempt, noLog));
    expect(near.times).toHaveLength(1);

    const stopping = scripted(MeshError.CLOSED('x'));
    await settle(policy({ stopped: () => true }).retrying(2, Date.now() + 5000, stopping.attempt, noLog));
    expect(stopping.times).toHaveLength(1);

    const refused = scripted(MeshError.UNREACHABLE(PEER, new BrokenCircuitError()));
    await settle(policy().retrying(2, Date.now() + 5000, refused.attempt, noLog));
    expect(refused.times).toHaveLength(1);
  });

  it('makes no retry at all for 0 retries (calls that are not idempotent)', async () => {
    const { attempt, times } = scripted(MeshError.CLOSED('x'));
    await settle(policy().retrying(0, Date.now() + 5000, attempt, noLog));
    expect(times).toHaveLength(1);
  });
});

describe('circuit breaker per member', () => {
  const silent = (): Promise<never> => Promise.reject(MeshError.TIMEOUT(100, PEER));
  const answered = (): Promise<string> => Promise.resolve('answer');

  async function failTimes(p: CallPolicy, n: number, key = PEER): Promise<void> {
    for (let i = 0; i < n; i++) await expect(p.guarded(key, silent)).rejects.toMatchObject({ code: 'TIMEOUT' });
  }

  it('opens after consecutive calls without an answer, refusing calls without sending them, then half-opens', async () => {
    const p = policy();
    await failTimes(p, FAILURES);
    const send = vi.fn(answered);
    await expect(p.guarded(PEER, send)).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(send).not.toHaveBeenCalled();
    // Other members are not concerned.
    await expect(p.guarded('cd'.repeat(32), send)).resolves.toBe('answer');

    await vi.advanceTimersByTimeAsync(HALF_OPEN_AFTER_MS - 10);
    await expect(p.guarded(PEER, send)).rejects.toBeInstanceOf(BrokenCircuitError);
    await vi.advanceTimersByTimeAsync(20);
    // The trial call goes through; its answer closes the breaker.
    await expect(p.guarded(PEER, send)).resolves.toBe('answer');
    await expect(p.guarded(PEER, send)).resolves.toBe('answer');
  });

  it('refuses the other calls at once while the trial call is out', async () => {
    const p = policy();
    await failTimes(p, FAILURES);
    await vi.advanceTimersByTimeAsync(HALF_OPEN_AFTER_MS + 10);
    let answer: (v: string) => void = () => undefined;
    const trial = p.guarded(PEER, () => new Promise<string>((resolve) => (answer = resolve)));
    await expect(p.guarded(PEER, answered)).rejects.toBeInstanceOf(BrokenCircuitError);
    answer('late');
    await expect(trial).resolves.toBe('late');
    await expect(p.guarded(PEER, answered)).resolves.toBe('answer');
  });

  it('reopens when the trial call gets no answer either', async () => {
    const p = policy();
    await failTimes(p, FAILURES);
    await vi.advanceTimersByTimeAsync(HALF_OPEN_AFTER_MS + 10);
    await failTimes(p, 1);
    await expect(p.guarded(PEER, answered)).rejects.toBeInstanceOf(BrokenCircuitError);
  });

  it('counts neither answers (which reset the count) nor closed connections', async () => {
    const p = policy();
    await failTimes(p, FAILURES - 1);
    await expect(p.guarded(PEER, answered)).resolves.toBe('answer');
    await failTimes(p, FAILURES - 1);
    for (let i = 0; i < FAILURES; i++) {
      await expect(p.guarded(PEER, () => Promise.reject(MeshError.CLOSED('closed')))).rejects.toMatchObject({ code: 'CLOSED' });
    }
    await expect(p.guarded(PEER, answered)).resolves.toBe('answer');
  });

  it('forgets the failures of a member on request (it left, or reconnected)', async () => {
    const p = policy();
    await failTimes(p, FAILURES);
    p.forget(PEER);
    await expect(p.guarded(PEER, answered)).resolves.toBe('answer');
  });
});
