import { describe, expect, it } from 'vitest';
import { WAN_OVERLAY, type OverlayConfig } from '../../src/mesh/overlay/config.js';
import { SimClock } from '../../src/mesh/sim/sim-clock.js';
import type { OverlayMessage } from '../../src/mesh/overlay/types.js';
import { KEY, SELF, scriptedNode } from './fixtures/scripted-node.js';

const SUSPECT = KEY(2);
const OTHER = KEY(3);

/** One node over a transport that links on demand and swallows what it sends: what it decides alone. */
function lone(config: OverlayConfig = WAN_OVERLAY, clock = new SimClock()) {
  const dead: Array<{ key: string; at: number }> = [];
  const listener = { left: (r: { key: string }, reason: string) => reason === 'dead' && dead.push({ key: r.key, at: clock.now() }) };
  const { node, links, link, sent, dials } = scriptedNode({ members: [SUSPECT, OTHER], config: { ...config, probesPerRound: 1 }, seed: 3, clock, listener });
  /** `OTHER` gossips that it suspects `SUSPECT`, with a second confirmation (the shortest near timeout). */
  const hearSuspicion = (): void => {
    node.message(OTHER, { t: 'ping', seq: 0, inc: 1, c: null, g: [{ key: SUSPECT, s: 'suspect', inc: 1, by: OTHER }, { key: SUSPECT, s: 'suspect', inc: 1, by: KEY(4) }] });
  };
  return { clock, node, links, link, sent, dead, dials, hearSuspicion };
}

/** A simulated clock that throws once `limit` timers were set at one instant: a livelock fails the test instead of hanging it. */
class BoundedClock extends SimClock {
  private instant = -1;
  private count = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override setTimer(ms: number, fn: () => void) {
    if (this.now() !== this.instant) [this.instant, this.count] = [this.now(), 0];
    if (++this.count > this.limit) throw new Error(`${this.count} timers set at ${this.now()} ms`);
    return super.setTimer(ms, fn);
  }
}

describe('suspicion decided only by the suspect’s neighbours', () => {
  const far = WAN_OVERLAY.suspicionMaxMs * WAN_OVERLAY.suspicionFarMultiplier;

  it('a suspicion heard by a node that does not watch the suspect ends at the far timeout, whatever the rounding of the instant it started at', () => {
    // At 8,768.037 ms, 8,768.037 + 24,000 - 8,768.037 is 23,999.999999999996: the far timer fired that much early, and deferring it by the difference set it at the same instant again, forever.
    const { clock, link, dead, hearSuspicion } = lone(WAN_OVERLAY, new BoundedClock(10_000));
    clock.run(8768.037);
    link(OTHER);
    hearSuspicion();
    clock.run(8768.037 + far + 1000);
    expect(dead.map((d) => d.key)).toEqual([SUSPECT]);
    expect(dead[0]!.at - 8768.037).toBeGreaterThanOrEqual(far - 1);
  });

  it('a node linked to the suspect only on demand (no probes between them), closed by the suspect at its bound, waits the far timeout', () => {
    const { clock, node, link, links, dead, hearSuspicion } = lone();
    link(OTHER);
    link(SUSPECT);
    hearSuspicion();
    node.message(SUSPECT, { t: 'view', want: false, busy: false, bye: true, neighbours: [] });
    links.delete(SUSPECT);
    node.linkDown(SUSPECT);
    clock.run(WAN_OVERLAY.suspicionMaxMs + 1000);
    expect(dead).toEqual([]);
    clock.run(far + 1000);
    expect(dead.map((d) => d.key)).toEqual([SUSPECT]);
  });

  it('a neighbour whose view link to the suspect closed during the suspicion waits the far timeout', () => {
    const { clock, node, link, links, dead, hearSuspicion } = lone();
    link(OTHER);
    link(SUSPECT);
    node.message(SUSPECT, { t: 'view', want: true, busy: false, bye: false, neighbours: [] });
    hearSuspicion();
    links.delete(SUSPECT);
    node.linkDown(SUSPECT);
    clock.run(WAN_OVERLAY.suspicionMaxMs + 1000);
    expect(dead).toEqual([]);
    clock.run(far + 1000);
    expect(dead.map((d) => d.key)).toEqual([SUSPECT]);
  });

  it('a neighbour still linked to the suspect decides within the near timeout', () => {
    const { clock, node, link, dead, hearSuspicion } = lone();
    link(OTHER);
    link(SUSPECT);
    node.message(SUSPECT, { t: 'view', want: true, busy: false, bye: false, neighbours: [] });
    hearSuspicion();
    clock.run(WAN_OVERLAY.suspicionMaxMs + 1000);
    expect(dead.map((d) => d.key)).toEqual([SUSPECT]);
  });
});

describe('a link lost under an unanswered probe', () => {
  it('suspects the member at once, rather than after the grace and a new dial', () => {
    const { clock, node, link, links, sent } = lone();
    link(SUSPECT);
    node.message(SUSPECT, { t: 'view', want: true, busy: false, bye: false, neighbours: [] });
    node.start();
    // The first ping of the suspect goes unanswered (the transport delivers nothing).
    clock.run(WAN_OVERLAY.probeIntervalMs + WAN_OVERLAY.probeTimeoutMaxMs + 10);
    expect(sent.some((s) => s.to === SUSPECT && s.m.t === 'ping' && s.m.seq > 0)).toBe(true);
    expect(node.membership.isSuspected(SUSPECT)).toBe(false);
    links.delete(SUSPECT);
    node.linkDown(SUSPECT);
    expect(node.membership.isSuspected(SUSPECT)).toBe(true);
  });

  it('leaves a member whose probes were answered to the grace', () => {
    const { clock, node, link, links, sent } = lone();
    link(SUSPECT);
    node.message(SUSPECT, { t: 'view', want: true, busy: false, bye: false, neighbours: [] });
    node.start();
    clock.run(WAN_OVERLAY.probeIntervalMs + 10);
    const ping = sent.find((s) => s.to === SUSPECT && s.m.t === 'ping' && s.m.seq > 0)!.m as Extract<OverlayMessage, { t: 'ping' }>;
    node.message(SUSPECT, { t: 'ack', seq: ping.seq, inc: 1, c: null, g: [] });
    links.delete(SUSPECT);
    node.linkDown(SUSPECT);
    expect(node.membership.isSuspected(SUSPECT)).toBe(false);
  });
});

describe('a suspect whose link closes without a goodbye', () => {
  it('is dialled again, and the failed dial is this node’s own confirmation: it decides as a neighbour', () => {
    const { clock, node, link, links, dead, dials } = lone();
    link(OTHER);
    link(SUSPECT);
    node.message(SUSPECT, { t: 'view', want: true, busy: false, bye: false, neighbours: [] });
    node.message(OTHER, { t: 'ping', seq: 0, inc: 1, c: null, g: [{ key: SUSPECT, s: 'suspect', inc: 1, by: OTHER }] });
    links.delete(SUSPECT);
    node.linkDown(SUSPECT);
    clock.run(clock.now() + WAN_OVERLAY.reconnectGraceMs + 10);
    expect(dials).toEqual([SUSPECT]);
    node.dialFailed(SUSPECT, false);
    clock.run(clock.now() + WAN_OVERLAY.suspicionMaxMs);
    expect(dead.map((d) => d.key)).toEqual([SUSPECT]);
  });
});

describe('a suspect that closed the link with a goodbye', () => {
  it('is no longer this node’s own suspect: the pings lost on the closing link wait for the far timeout', () => {
    const { clock, node, link, links, dead } = lone();
    link(SUSPECT);
    node.message(SUSPECT, { t: 'view', want: true, busy: false, bye: false, neighbours: [] });
    node.start();
    // The suspect closed its end: the pings go unanswered until its goodbye arrives (delayed on the stream).
    for (let t = 0; t < 10 && !node.membership.isSuspected(SUSPECT); t++) clock.run(clock.now() + 1000);
    expect(node.membership.isSuspected(SUSPECT)).toBe(true);
    node.message(SUSPECT, { t: 'view', want: false, busy: false, bye: true, neighbours: [] });
    links.delete(SUSPECT);
    node.linkDown(SUSPECT);
    clock.run(clock.now() + WAN_OVERLAY.suspicionMaxMs + 1000);
    expect(dead).toEqual([]);
  });
});

describe('a suspect that refutes', () => {
  it('tells the node that suspected it directly, dialling it when not linked (the gossip may reach that node after its timer)', () => {
    const { node, link, sent, dials } = lone();
    link(OTHER);
    // OTHER relays that KEY(4), a member this node is not linked to, suspects it.
    node.message(OTHER, { t: 'ping', seq: 0, inc: 1, c: null, g: [{ key: SELF, s: 'suspect', inc: 1, by: KEY(4) }] });
    expect(node.membership.incarnation).toBe(2);
    expect(dials).toContain(KEY(4));
    // A second report of the same suspicion by another member: told as well; the same reporter again: not.
    node.message(OTHER, { t: 'ping', seq: 0, inc: 1, c: null, g: [{ key: SELF, s: 'suspect', inc: 1, by: OTHER }, { key: SELF, s: 'suspect', inc: 1, by: KEY(4) }] });
    const told = sent.filter((s) => s.m.t === 'ping' && s.m.seq === 0 && s.m.g.some((u) => u.key === SELF && u.s === 'alive' && u.inc === 2));
    expect(told.map((s) => s.to)).toContain(OTHER);
    expect(dials.filter((k) => k === KEY(4))).toHaveLength(1);
  });
});

describe('a far suspicion', () => {
  const far = WAN_OVERLAY.suspicionMaxMs * WAN_OVERLAY.suspicionFarMultiplier;

  it('stays far when the suspect opens a view link during it, and the suspect is told of it on that link', () => {
    const { clock, node, link, sent, dead, hearSuspicion } = lone();
    link(OTHER);
    hearSuspicion();
    link(SUSPECT);
    node.message(SUSPECT, { t: 'view', want: true, busy: false, bye: false, neighbours: [] });
    expect(sent.some((s) => s.to === SUSPECT && s.m.t === 'ping' && s.m.g.some((u) => u.key === SUSPECT && u.s === 'suspect'))).toBe(true);
    clock.run(WAN_OVERLAY.suspicionMaxMs + 1000);
    expect(dead).toEqual([]);
    clock.run(far + 1000);
    expect(dead.map((d) => d.key)).toEqual([SUSPECT]);
  });

  it('is not this node’s own when its own suspicion comes back through the gossip after the suspect’s goodbye', () => {
    const { clock, node, link, links, dead } = lone();
    link(OTHER);
    link(SUSPECT);
    node.message(SUSPECT, { t: 'view', want: true, busy: false, bye: false, neighbours: [] });
    node.start();
    for (let t = 0; t < 10 && !node.membership.isSuspected(SUSPECT); t++) clock.run(clock.now() + 1000);
    expect(node.membership.isSuspected(SUSPECT)).toBe(true);
    node.message(SUSPECT, { t: 'view', want: false, busy: false, bye: true, neighbours: [] });
    links.delete(SUSPECT);
    node.linkDown(SUSPECT);
    // A neighbour gossips this node's own suspicion back, with a confirmation of another member.
    node.message(OTHER, { t: 'ping', seq: 0, inc: 1, c: null, g: [{ key: SUSPECT, s: 'suspect', inc: 1, by: SELF }, { key: SUSPECT, s: 'suspect', inc: 1, by: KEY(4) }] });
    clock.run(clock.now() + WAN_OVERLAY.suspicionMaxMs + 1000);
    expect(dead).toEqual([]);
  });
});
