import { describe, expect, it } from 'vitest';
import { cluster, KEY } from './fixtures/overlay-cluster.js';
import { decodeMessage, encodeMessage, messageBytes } from '../../src/mesh/overlay/codecs.js';
import { LAN_OVERLAY, WAN_OVERLAY, type OverlayConfig } from '../../src/mesh/overlay/config.js';
import { GossipQueue } from '../../src/mesh/overlay/gossip-queue.js';
import type { FindResult } from '../../src/mesh/overlay/registry.js';
import { Suspicion } from '../../src/mesh/overlay/suspicion.js';
import type { OverlayMessage, Update } from '../../src/mesh/overlay/types.js';
import { SimClock } from '../../src/mesh/sim/sim-clock.js';
import { MESH_SIM_DEFAULTS } from '../../src/mesh/sim/options.js';
import { simulateMesh } from '../../src/mesh/sim/scenario.js';

describe('overlay codecs', () => {
  it('round-trips every message shape, and refuses a malformed one', () => {
    const update: Update = { key: KEY(3), s: 'suspect', inc: 7, by: KEY(4), info: { name: 'a', httpAddress: null, site: 'JP', capacity: { cpu: 4 }, seq: 2 }, c: { vec: [1, 2], error: 0.5, adjustment: 0, height: 0.1 } };
    const messages: OverlayMessage[] = [
      { t: 'ping', seq: 1, inc: 2, c: null, g: [update] },
      { t: 'sync', reply: true, join: false, members: [{ key: KEY(5), s: 'alive', inc: 1 }] },
      { t: 'view', want: true, busy: false, bye: false, neighbours: [KEY(6)] },
      { t: 'found', qid: 3, hops: 2, ok: true, more: false, records: [{ key: 'e:1', by: KEY(7), value: '{"x":1}', ttl: 100 }] },
    ];
    for (const m of messages) {
      const raw = encodeMessage(m);
      expect(decodeMessage(m.t, raw)).toEqual(m);
      expect(messageBytes(m)).toBe(raw.length + m.t.length + 3);
    }
    expect(() => decodeMessage('ping', Buffer.from([1, 2]))).toThrow();
  });
});

describe('gossip queue and suspicion', () => {
  it('sends each update a bounded number of times, least sent first, a newer one replacing an older', () => {
    const q = new GossipQueue(() => 2);
    q.push({ key: 'a', s: 'alive', inc: 1 });
    q.push({ key: 'b', s: 'alive', inc: 1 });
    q.push({ key: 'a', s: 'suspect', inc: 1 });
    expect(q.take(1).map((u) => u.key)).toEqual(['b']);
    expect(q.take(5).map((u) => `${u.key}:${u.s}`)).toEqual(['a:suspect', 'b:alive']);
    expect(q.take(5).map((u) => u.key)).toEqual(['a']);
    expect(q.take(5)).toEqual([]);
  });

  it('shrinks a suspicion timeout with each independent confirmation, down to the minimum', () => {
    const clock = new SimClock();
    let firedAt = -1;
    const s = new Suspicion(clock, 1000, 4000, 2, 'x', () => (firedAt = clock.now()));
    clock.run(500);
    expect(s.confirm('x')).toBe(false);
    expect(s.confirm('y')).toBe(true);
    clock.run(1500);
    expect(firedAt).toBe(-1);
    expect(s.confirm('z')).toBe(true);
    clock.run(1500);
    expect(firedAt).toBe(1500);
  });
});

describe('overlay of a dozen nodes over the simulated network', () => {
  it('converges, keeps every node within its link bound, finds every record, and detects a crash within the bound', () => {
    const config: OverlayConfig = { ...LAN_OVERLAY, maxConnections: 10, viewNearest: 3, viewRandom: 2, maxViewIn: 4 };
    const { clock, net, nodes, events } = cluster(12, config, 0.01);
    clock.run(20_000);
    for (const node of nodes) expect(node.members()).toHaveLength(11);
    for (const node of nodes) expect(net.links(node.table.selfKey)).toBeLessThanOrEqual(10);
    expect(net.maxLinksSeen).toBeLessThanOrEqual(10);
    nodes.forEach((n, i) => n.registry.publish(`e:${i}`));
    clock.run(25_000);
    const found = new Map<string, string[]>();
    // A lookup left unanswered (a message lost, a member at its link bound) says so and is asked again, as callers do.
    const settle = (j: number, i: number) => (r: FindResult) => found.set(`${j}/${i}`, r.records.map((x) => x.by));
    nodes.forEach((n, j) => nodes.forEach((_, i) => n.registry.find(`e:${i}`, (r) => (r.ok ? settle(j, i)(r) : clock.setTimer(1000, () => n.registry.find(`e:${i}`, settle(j, i)))))));
    clock.run(30_000);
    expect(found.size).toBe(144);
    for (const [at, by] of found) expect(by, at).toEqual([KEY(Number(at.split('/')[1]) + 1)]);
    expect(events.filter((e) => e.kind === 'suspected')).toEqual([]);

    const victim = nodes[5]!;
    victim.stop();
    net.crash(victim.table.selfKey);
    clock.run(40_000);
    const declared = events.filter((e) => e.kind === 'dead' && e.key === victim.table.selfKey);
    expect(declared.length).toBe(11);
    expect(Math.min(...declared.map((e) => e.at)) - 30_000).toBeLessThan(5000);
    for (const node of nodes) if (node !== victim) expect(node.members().map((m) => m.key)).not.toContain(victim.table.selfKey);
  });

  it('removes a node that leaves without suspecting it', () => {
    const { clock, nodes, events } = cluster(6);
    clock.run(15_000);
    nodes[2]!.leave();
    clock.run(16_000);
    expect(events.filter((e) => e.kind === 'left' && e.key === nodes[2]!.table.selfKey)).toHaveLength(5);
    expect(events.filter((e) => e.kind === 'suspected' || e.kind === 'dead')).toEqual([]);
  });
});

describe('mesh simulator', () => {
  it('prints the figures of a small run, deterministic for a seed', () => {
    const options = { ...MESH_SIM_DEFAULTS, nodes: 40, durationS: 40, warmupS: 20, churn: 0.3 };
    const a = simulateMesh(options);
    expect(a.nodes).toBe(40);
    expect(a.crashes).toBeGreaterThan(0);
    expect(a.undetected).toBe(0);
    expect(a.lookup_success).toBe(1);
    expect(a.connections_max).toBeLessThanOrEqual(32);
    expect(a.msgs_per_node_s).toBeLessThan(30);
    const b = simulateMesh(options);
    expect({ ...b, wall_s: 0, heap_mb: 0 }).toEqual({ ...a, wall_s: 0, heap_mb: 0 });
  }, 60_000);

  it('with member tables bounded to half the mesh, finds every live record in three hops and declares no live node dead', () => {
    const config: OverlayConfig = { ...WAN_OVERLAY, maxKnownMembers: 100, ringWindowMin: 4 };
    const r = simulateMesh({ ...MESH_SIM_DEFAULTS, nodes: 200, durationS: 60, warmupS: 30, churn: 0.05, lookupRate: 0.05 }, undefined, config);
    expect(r.members_known_mean).toBeLessThanOrEqual(100);
    expect(r.crashes).toBeGreaterThan(5);
    expect(r.undetected).toBe(0);
    expect(r.false_deaths).toBe(0);
    expect(r.lookups).toBeGreaterThan(300);
    expect(r.lookup_success).toBe(1);
    expect(r.lookup_hops_p99).toBeLessThanOrEqual(3);
    expect(r.msgs_per_node_s).toBeLessThan(30);
  }, 60_000);
});
