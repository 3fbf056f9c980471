import { describe, expect, it } from 'vitest';
import type { OverlayHandler, OverlayMessage } from '../../src/mesh/overlay/types.js';
import { SimClock } from '../../src/mesh/sim/sim-clock.js';
import { SimNetwork } from '../../src/mesh/sim/sim-network.js';
import { seededRandom } from '../../src/mesh/vivaldi/random.js';

/** Two nodes on one site; what the second one sees, in order. `script`: the random draws to use first (a draw below `loss` loses a packet). */
function pair(loss = 0, script: number[] = []) {
  const clock = new SimClock();
  const seeded = seededRandom(1);
  const random = (): number => script.shift() ?? seeded();
  const net = new SimNetwork({ clock, random, rtt: () => 40, medianRttMs: 40, jitter: 0, loss, maxLinks: 8, linkTimeoutMs: 3000, nodes: () => 2 });
  const seen: string[] = [];
  const handler = (log: boolean): OverlayHandler => ({
    linkUp: (k) => void (log && seen.push(`up:${k}`)),
    linkDown: (k) => void (log && seen.push(`down:${k}`)),
    dialFailed: () => undefined,
    admit: () => true,
    message: (_from, m) => void (log && seen.push(m.t === 'put' ? `put:${m.qid}` : m.t)),
  });
  const a = net.add('a', 0);
  net.add('b', 0);
  net.attach('a', handler(false));
  net.attach('b', handler(true));
  a.dial('b');
  clock.run(1000);
  seen.length = 0;
  return { clock, a, net, seen };
}

describe('simulated network', () => {
  it('delivers what one stream carries in the order it was sent, even when it arrives at the same instant', () => {
    const { clock, a, seen } = pair();
    for (let i = 0; i < 40; i++) a.send('b', { t: 'put', qid: i, hops: 0, records: [] } satisfies OverlayMessage);
    clock.run(2000);
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => `put:${i}`));
  });

  it('delivers a goodbye sent before the link is closed before the closing', () => {
    const { clock, a, seen } = pair();
    for (let i = 0; i < 10; i++) a.send('b', { t: 'put', qid: i, hops: 0, records: [] });
    a.send('b', { t: 'view', want: false, busy: false, bye: true, neighbours: [] });
    a.hangUp('b');
    clock.run(2000);
    expect(seen.slice(-2)).toEqual(['view', 'down:a']);
    expect(seen).toHaveLength(12);
  });

  it('keeps a link dialled again before the closing of the previous one reached the other end, at both ends', () => {
    // The goodbye's packet is lost once (resent after the 1 s retransmission timeout): the closing follows it, after the new dial (140 ms).
    const { clock, a, net, seen } = pair(0.5, [0, 0.9, 0.9]);
    a.send('b', { t: 'view', want: false, busy: false, bye: true, neighbours: [] });
    a.hangUp('b');
    a.dial('b');
    clock.run(4000);
    expect(a.isLinked('b')).toBe(true);
    expect(net.links('b')).toBe(1);
    // The old link's goodbye and closing do not reach the new link.
    expect(seen).toEqual(['up:a']);
  });
});
