import { describe, expect, it } from 'vitest';
import { LAN_OVERLAY, type OverlayConfig } from '../../src/mesh/overlay/config.js';
import type { OverlayNode } from '../../src/mesh/overlay/node.js';
import { encodeMessage } from '../../src/mesh/overlay/codecs.js';
import { keyPosition } from '../../src/mesh/overlay/types.js';
import { GROUP_PREFIX, HOLDER_PREFIX, PresenceRecords, type Holdings } from '../../src/mesh/records/presence-records.js';
import { directoryRecords, registryDirectory } from '../../src/mesh/records/record-directory.js';
import { UsageRecords } from '../../src/mesh/records/usage-records.js';
import type { SimClock } from '../../src/mesh/sim/sim-clock.js';
import { cluster } from './fixtures/overlay-cluster.js';

const CONFIG: OverlayConfig = { ...LAN_OVERLAY, maxConnections: 10, viewNearest: 3, viewRandom: 2, maxViewIn: 4 };

/** Runs the simulated clock in steps, letting promises settle between them, until `p` settles (at most `maxMs`). */
async function settle<T>(clock: SimClock, p: Promise<T>, maxMs = 10_000): Promise<T> {
  let done = false;
  const out = p.finally(() => (done = true));
  for (let t = 0; t < maxMs && !done; t += 50) {
    clock.run(clock.now() + 50);
    await new Promise((r) => setImmediate(r));
  }
  if (!done) throw new Error(`not settled within ${maxMs} simulated ms`);
  return out;
}

/** A node's entity store as the holder records see it: a set of ids and its changes. */
function holdings(initial: string[] = []) {
  const ids = new Set(initial);
  const listeners = new Set<(put: readonly string[], removed: readonly string[]) => void>();
  const source: Holdings = { ids: () => ids, onChange: (l) => (listeners.add(l), () => listeners.delete(l)) };
  const change = (put: string[], removed: string[]): void => {
    for (const id of removed) ids.delete(id);
    for (const id of put) ids.add(id);
    for (const l of listeners) l(put, removed);
  };
  return { source, change };
}

function holderRecords(clock: SimClock, nodes: OverlayNode[], held: (i: number) => string[]) {
  return nodes.map((n, i) => {
    const h = holdings(held(i));
    const records = new PresenceRecords(directoryRecords(n.table.selfKey, registryDirectory(n.registry, clock)), HOLDER_PREFIX);
    records.follow(h.source);
    return { records, change: h.change, key: n.table.selfKey };
  });
}

describe('entity holders on the ring directory', () => {
  it('finds every holder from every node in at most 3 hops, follows a move, and drops a crashed holder', async () => {
    const { clock, net, nodes } = cluster(24, CONFIG);
    clock.run(20_000);
    const holders = holderRecords(clock, nodes, (i) => [`vm-${i}-a`, `vm-${i}-b`]);
    clock.run(30_000);
    let hopsMax = 0;
    for (const [j, asker] of holders.entries()) {
      for (const i of [0, 5, 11, 23]) {
        const dir = directoryRecords(nodes[j]!.table.selfKey, registryDirectory(nodes[j]!.registry, clock));
        const found = await settle(clock, dir.findAll(`holder:vm-${i}-b`));
        hopsMax = Math.max(hopsMax, found.hops);
        expect(found.ok).toBe(true);
        const { keys } = await settle(clock, asker.records.who(`vm-${i}-b`));
        expect(keys, `vm-${i}-b from node ${j}`).toEqual(i === j ? [] : [holders[i]!.key]);
      }
    }
    // The keepers known: one hop, the next tried when one is slow; else through the member before the key.
    expect(hopsMax).toBeLessThanOrEqual(3);

    // A move: the target holds it, then the source lets it go.
    holders[7]!.change(['vm-3-a'], []);
    holders[3]!.change([], ['vm-3-a']);
    clock.run(clock.now() + 2000);
    expect((await settle(clock, holders[15]!.records.who('vm-3-a'))).keys).toEqual([holders[7]!.key]);
    // Deleted: nobody.
    holders[7]!.change([], ['vm-3-a']);
    clock.run(clock.now() + 2000);
    expect(await settle(clock, holders[15]!.records.who('vm-3-a'))).toEqual({ ok: true, keys: [] });

    // A crashed holder's records go once it is declared dead.
    nodes[9]!.stop();
    net.crash(nodes[9]!.table.selfKey);
    clock.run(clock.now() + 15_000);
    expect((await settle(clock, holders[2]!.records.who('vm-9-a'))).keys).toEqual([]);
    expect((await settle(clock, holders[2]!.records.who('vm-10-a'))).keys).toEqual([holders[10]!.key]);
  });
});

describe('a write acknowledged once its records are on the ring', () => {
  it('settles once the keepers hold what was published: then every other node finds it', async () => {
    const { clock, nodes } = cluster(24, CONFIG);
    clock.run(20_000);
    const holders = holderRecords(clock, nodes, () => []);
    const dirs = nodes.map((n) => directoryRecords(n.table.selfKey, registryDirectory(n.registry, clock)));
    const keepersOf = (name: string) => nodes[0]!.table.successors(keyPosition(`holder:${name}`), CONFIG.directoryReplicas);
    for (const i of [2, 9, 17]) {
      // A name this node does not keep itself: its record must travel to be read back.
      const name = Array.from({ length: 64 }, (_, k) => `new-${i}-${k}`).find((n) => !keepersOf(n).includes(holders[i]!.key))!;
      holders[i]!.change([name], []);
      expect(await settle(clock, holders[i]!.records.settled())).toBe(true);
      // At the instant it settled, a keeper holds it.
      expect(nodes.filter((n) => keepersOf(name).includes(n.table.selfKey) && n.registry.holds(`holder:${name}`, holders[i]!.key)).length).toBeGreaterThan(0);
      for (const [j, dir] of dirs.entries()) {
        if (j === i) continue;
        const found = await settle(clock, dir.findAll(`holder:${name}`));
        expect(found.records.map((r) => r.by), `${name} from ${j}`).toEqual([holders[i]!.key]);
      }
    }
  });

  it('does not settle while the keepers cannot be reached', async () => {
    const { clock, net, nodes } = cluster(16, CONFIG);
    clock.run(20_000);
    const holders = holderRecords(clock, nodes, () => []);
    // Everyone but the publisher gone at once: nobody keeps its record.
    for (const n of nodes.slice(1)) {
      n.stop();
      net.crash(n.table.selfKey);
    }
    // A name whose keepers do not include the publisher (a keeper reads its own record back at once).
    const self = nodes[0]!.table;
    const name = Array.from({ length: 64 }, (_, k) => `lonely-${k}`).find((n) => !self.successors(keyPosition(`holder:${n}`), CONFIG.directoryReplicas).includes(self.selfKey))!;
    holders[0]!.change([name], []);
    expect(await settle(clock, holders[0]!.records.settled(), 30_000)).toBe(false);
  });
});

describe('records on the wire', () => {
  it('regression: a record found has a whole, positive time to live, which encodes (clocks have fractions of a millisecond)', async () => {
    const { clock, nodes } = cluster(8, CONFIG);
    clock.run(20_000.37);
    nodes[2]!.registry.publish('frac', 'v');
    clock.run(clock.now() + 1234.56);
    const dir = directoryRecords(nodes[5]!.table.selfKey, registryDirectory(nodes[5]!.registry, clock));
    const { records } = await settle(clock, dir.findAll('frac'));
    expect(records).toHaveLength(1);
    for (const r of records) expect(Number.isInteger(r.ttl) && r.ttl > 0, String(r.ttl)).toBe(true);
    expect(() => encodeMessage({ t: 'found', qid: 1, hops: 1, ok: true, more: false, records })).not.toThrow();
  });
});

describe('placement groups on the ring directory', () => {
  it('names the nodes hosting computes of a group, following what each node hosts', async () => {
    const { clock, nodes } = cluster(16, CONFIG);
    clock.run(20_000);
    const groups = nodes.map((n) => new PresenceRecords(directoryRecords(n.table.selfKey, registryDirectory(n.registry, clock)), GROUP_PREFIX));
    groups[2]!.replace(['acme/db', 'acme/web']);
    groups[6]!.replace(['acme/db']);
    groups[11]!.replace(['beta/db']);
    clock.run(25_000);
    const who = async (j: number, g: string) => (await settle(clock, groups[j]!.who(g))).keys.sort();
    const key = (i: number) => nodes[i]!.table.selfKey;
    expect(await who(0, 'acme/db')).toEqual([key(2), key(6)].sort());
    expect(await who(6, 'acme/db')).toEqual([key(2)]);
    expect(await who(15, 'beta/db')).toEqual([key(11)]);
    // Node 2's last compute of acme/db went away; it still hosts acme/web.
    groups[2]!.replace(['acme/web']);
    clock.run(clock.now() + 2000);
    expect(await who(0, 'acme/db')).toEqual([key(6)]);
    expect(await who(9, 'acme/web')).toEqual([key(2)]);
  });
});

describe('tenant usage summed on the ring directory', () => {
  it('sums the parts of every node holding some of a tenant, follows changes, and leaves out a crashed node', async () => {
    const { clock, net, nodes } = cluster(20, CONFIG);
    clock.run(20_000);
    const usage = nodes.map((n) => new UsageRecords(directoryRecords(n.table.selfKey, registryDirectory(n.registry, clock))));
    for (const i of [1, 4, 8, 13, 17]) usage[i]!.publish('acme', { instances: i, cores: 2 * i });
    usage[4]!.publish('other', { instances: 100, cores: 100 });
    clock.run(30_000);
    for (const j of [0, 4, 19]) {
      const r = await settle(clock, usage[j]!.others('acme'));
      const parts = [1, 4, 8, 13, 17].filter((i) => i !== j);
      expect(r).toEqual({ ok: true, parts: parts.length, total: { instances: parts.reduce((a, b) => a + b, 0), cores: 2 * parts.reduce((a, b) => a + b, 0) } });
    }
    // A part changed, a part withdrawn (nothing held any more).
    usage[8]!.publish('acme', { instances: 1, cores: 1 });
    usage[13]!.publish('acme', { instances: 0, cores: 0 });
    clock.run(clock.now() + 2000);
    expect(await settle(clock, usage[0]!.others('acme'))).toEqual({ ok: true, parts: 4, total: { instances: 1 + 4 + 1 + 17, cores: 2 + 8 + 1 + 34 } });
    // A crashed node's part is dropped by the keepers once it is declared dead.
    nodes[17]!.stop();
    net.crash(nodes[17]!.table.selfKey);
    clock.run(clock.now() + 15_000);
    expect(await settle(clock, usage[0]!.others('acme'))).toEqual({ ok: true, parts: 3, total: { instances: 1 + 4 + 1, cores: 2 + 8 + 1 } });
  });
});
