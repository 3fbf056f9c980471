import { describe, expect, it } from 'vitest';
import { WAN_OVERLAY, type OverlayConfig } from '../../src/mesh/overlay/config.js';
import { keyPosition, RING_SIZE } from '../../src/mesh/overlay/types.js';
import { KEY, SELF, scriptedNode } from './fixtures/scripted-node.js';

/** One node knowing `members`, over a transport that records what it sends and answers nothing. */
function node(members: string[], config: OverlayConfig) {
  return scriptedNode({ members, config, seed: 5 });
}

describe('a link an answer is awaited on', () => {
  it('is not the one closed to make room at the bound, though least recently used', () => {
    const keepers = [KEY(2), KEY(3)];
    const { clock, node: n, link, sent, hungUp } = node(keepers, { ...WAN_OVERLAY, maxConnections: 2, directoryReplicas: 2 });
    for (const k of keepers) link(k);
    clock.run(100);
    // One keeper is asked first; the other only if it has nothing.
    n.registry.find('e:any', () => undefined);
    const asked = sent.find((s) => s.m.t === 'find')!.to;
    const other = keepers.find((k) => k !== asked)!;
    clock.run(200);
    n.views.touch(other);
    // An incoming link at the bound: one link on demand is closed for it.
    expect(n.admit()).toBe(true);
    expect(hungUp).toEqual([other]);
  });
});

describe('a record whose puts are not answered', () => {
  it('is looked up and put again by its publisher until the periodic republication takes over', () => {
    const keepers = [KEY(2), KEY(3), KEY(4)];
    const { clock, node: n, link, sent } = node(keepers, WAN_OVERLAY);
    for (const k of keepers) link(k);
    // A key this node does not keep itself (it would find its own copy).
    let key = 'e:0';
    for (let i = 1; n.table.successors(keyPosition(key), 3).includes(SELF); i++) key = `e:${i}`;
    n.registry.publish(key);
    clock.run(WAN_OVERLAY.directoryRefreshMs - 1);
    const checks = sent.filter((s) => s.m.t === 'find').map((s) => s.at);
    // Checked at growing intervals, each after the keepers' timeouts (here at 4, 16, 32 and 52 s), not only in the first 34 s.
    expect(checks.some((at) => at > 40_000)).toBe(true);
    expect(sent.filter((s) => s.m.t === 'put' && s.at > 40_000).length).toBeGreaterThan(0);
  });
});

describe('a lookup of a key this node’s window does not cover', () => {
  it('is passed to members before the key near enough to cover it, not always the closest two (the arc’s contacts, known to every node)', () => {
    // 64 members evenly around the ring; the table is bounded (members were forgotten), so the window is all it relies on.
    const at = (i: number): string => Math.floor((i * RING_SIZE) / 64).toString(16).padStart(12, '0') + 'ab'.repeat(26);
    const { node: n, dials } = node(Array.from({ length: 64 }, (_, i) => at(i)), WAN_OVERLAY);
    n.table.forgotten = 1000;
    let key = 'e:0';
    for (let i = 1; keyPosition(key) < RING_SIZE / 2 || keyPosition(key) > 0.55 * RING_SIZE; i++) key = `e:${i}`;
    expect(n.table.covers(keyPosition(key), 3)).toBe(false);
    for (let i = 0; i < 20; i++) n.registry.find(key, () => undefined);
    const closest = n.table.preceding(keyPosition(key), 2);
    expect(new Set(dials).size).toBeGreaterThan(2);
    expect(dials.every((k) => n.table.preceding(keyPosition(key), 8).includes(k))).toBe(true);
    expect(dials.some((k) => !closest.includes(k))).toBe(true);
  });
});
