/**
 * Rediscovery of lost members (src/mesh/discovery.ts): while a lost member is not back, the topic
 * is looked up again on a bounded backoff, and no more once it is back or after the bound. The
 * swarm is a recorder of lookups (Hyperswarm's own dialling is what these lookups work around);
 * the clock is the simulator's.
 */
import type Hyperswarm from 'hyperswarm';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Discovery } from '../../src/mesh/discovery.js';
import { SimClock } from '../../src/mesh/sim/sim-clock.js';

function discovery() {
  const clock = new SimClock();
  const lookups: number[] = [];
  const session = { flushed: async () => undefined, refresh: async () => void lookups.push(clock.now()) };
  const swarm = { join: () => session, leave: async () => undefined } as unknown as Hyperswarm;
  const d = new Discovery({ keyPair: { publicKey: Buffer.alloc(32), secretKey: Buffer.alloc(64) }, topic: Buffer.alloc(32), bootstrap: [], swarm, refreshScheduleMs: [], timers: clock, log: pino({ level: 'silent' }) });
  return { d, clock, lookups };
}

describe('rediscovery of lost members', () => {
  it('looks the topic up after 1, 2 and 4 s, then every 5 s, until the member is back', async () => {
    const { d, clock, lookups } = discovery();
    await d.join();
    d.lost('a');
    clock.run(27_000);
    expect(lookups).toEqual([1_000, 3_000, 7_000, 12_000, 17_000, 22_000, 27_000]);
    d.found('a');
    clock.run(60_000);
    expect(lookups.length).toBe(7);
  });

  it('goes on while any lost member is missing, and gives up on one after 10 minutes', async () => {
    const { d, clock, lookups } = discovery();
    await d.join();
    d.lost('a');
    clock.run(5_000);
    d.lost('b');
    d.found('a');
    clock.run(20_000);
    expect(lookups).toEqual([1_000, 3_000, 7_000, 12_000, 17_000]); // b still missing: the same schedule goes on
    clock.run(11 * 60_000);
    const last = lookups.at(-1)!;
    expect(last).toBeLessThanOrEqual(5_000 + 10 * 60_000 + 5_000);
    clock.run(20 * 60_000);
    expect(lookups.at(-1)).toBe(last);
  });

  it('stops looking once stopped', async () => {
    const { d, clock, lookups } = discovery();
    await d.join();
    d.lost('a');
    d.stop();
    clock.run(60_000);
    expect(lookups).toEqual([]);
  });
});
