/**
 * The mesh simulator: N nodes running the production overlay (membership, failure detection,
 * views, directory) over the simulated network, placed at the countries of the RTT matrix;
 * crashes and joins at the churn rate, lookups of live entities; the figures of `MeshSimResult`.
 */
/*
 * Warm start: every node begins with what a converged node knows (its ring window, two contacts
 * per arc, random members up to its bound; no coordinates, no links), then runs `warmupS` seconds
 * so that links open, coordinates converge and records reach their keepers; only then are the
 * figures counted. A crash is silent (no goodbye): its peers notice it by their probes, or when
 * their links to it time out.
 */
import { loadRttMatrix } from '../rtt-matrix.js';
import { WAN_OVERLAY, type OverlayConfig } from '../overlay/config.js';
import { arcsFor, keptHalfFor, windowHalfFor, type MemberRecord } from '../overlay/member-table.js';
import { OverlayNode } from '../overlay/node.js';
import { memberPosition, type MemberInfo } from '../overlay/types.js';
import { VivaldiClient } from '../vivaldi/client.js';
import type { RandomSource } from '../vivaldi/coordinate.js';
import { seededRandom } from '../vivaldi/random.js';
import type { MeshSimOptions, MeshSimResult } from './options.js';
import { SimDiagnostics } from './diagnostics.js';
import { SimClock } from './sim-clock.js';
import { SimNetwork } from './sim-network.js';

interface SimNode {
  key: string;
  /** Its ring position. */
  pos: number;
  /** Index in the live list while alive. */
  index: number;
  site: number;
  overlay: OverlayNode;
  alive: boolean;
  bornAt: number;
  entities: string[];
}

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const round = (x: number, d = 3): number => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

/**
 * A random 32-byte key in hex, as one flat string (as a key decoded off the wire is): a string
 * built by concatenation is a rope, hashed again at every map lookup, which the member tables do
 * for every member every view period.
 */
function hexKey(random: RandomSource): string {
  const bytes = Buffer.alloc(32);
  for (let i = 0; i < 8; i++) bytes.writeUInt32BE(Math.floor(random() * 2 ** 32), 4 * i);
  return bytes.toString('hex');
}

function exponential(random: RandomSource, rate: number): number {
  return -Math.log(1 - random()) / rate;
}

export function simulateMesh(o: MeshSimOptions, onProgress?: (fraction: number) => void, profile: OverlayConfig = WAN_OVERLAY): MeshSimResult {
  const config: OverlayConfig = o.maxKnownMembers === undefined ? profile : { ...profile, maxKnownMembers: o.maxKnownMembers };
  const wall0 = performance.now();
  const random = seededRandom(o.seed);
  const matrix = loadRttMatrix(o.matrix);
  const sites = matrix.ids.length;
  const rtts = matrix.rtt.flat().filter((_, i) => i % (sites + 1) !== 0).sort((a, b) => a - b);
  const clock = new SimClock();
  /** Live nodes (a crashed one is swapped out, and forgotten once its links timed out). */
  const live: SimNode[] = [];
  const byKey = new Map<string, SimNode>();
  let created = 0;
  const net = new SimNetwork({
    clock,
    random,
    rtt: (a, b) => matrix.rtt[a]![b]!,
    medianRttMs: rtts[Math.floor(rtts.length / 2)]!,
    jitter: o.jitter,
    loss: o.loss,
    maxLinks: config.maxConnections,
    linkTimeoutMs: 3000,
    nodes: () => live.length,
  });

  // Figures.
  const measureFrom = o.warmupS * 1000;
  const measuring = (): boolean => clock.now() >= measureFrom;
  const crashedAt = new Map<string, number>();
  const detections: number[] = [];
  const detected = new Set<string>();
  let falsePositives = 0;
  let falseDeaths = 0;
  const lookups: Array<{ hops: number; ms: number; ok: boolean }> = [];
  const joinsPending = new Map<string, number>();
  const joinTimes: number[] = [];
  const diag = new SimDiagnostics(() => clock.now(), () => live, o.trace ?? false);

  const addNode = (site: number, at: number): SimNode => {
    const key = hexKey(random);
    const transport = net.add(key, site);
    const info: MemberInfo = { name: `n${created++}`, httpAddress: null, site: matrix.ids[site]!, capacity: null, seq: 1 };
    const node: SimNode = { key, pos: memberPosition(key), index: live.length, site, overlay: undefined as unknown as OverlayNode, alive: true, bornAt: at, entities: [] };
    node.overlay = new OverlayNode({
      selfKey: key,
      info,
      config,
      timers: clock,
      random,
      transport,
      vivaldi: new VivaldiClient({ random }),
      rttWindow: 9,
      incarnation: Math.floor(at / 1000),
      listener: {
        left: (r, reason) => {
          if (reason !== 'dead' || detected.has(`${r.key}/${r.inc}`)) return;
          detected.add(`${r.key}/${r.inc}`);
          const crashed = crashedAt.get(r.key);
          if (crashed !== undefined) {
            detections.push((clock.now() - crashed) / 1000);
            diag.crashDetected(r.key, node);
          } else if (measuring()) {
            falseDeaths++;
            const victim = byKey.get(r.key);
            if (victim) diag.falseDeath(node, victim, r.inc);
          }
        },
        suspected: (k, by) => {
          if (crashedAt.has(k)) return diag.crashSuspected(k, by);
          const victim = byKey.get(k);
          if (!victim?.alive || !measuring()) return;
          diag.suspected(victim, by, node);
          if (by === key) falsePositives++;
        },
      },
    });
    net.attach(key, node.overlay);
    live.push(node);
    byKey.set(key, node);
    return node;
  };

  // Warm start: the nodes, then what each one would know once converged.
  for (let i = 0; i < o.nodes; i++) addNode(Math.floor(random() * sites), 0);
  const ring = [...live].sort((a, b) => a.pos - b.pos);
  const half = keptHalfFor(o.nodes, config.ringWindowMin);
  const arcs = arcsFor(windowHalfFor(o.nodes, config.ringWindowMin));
  const infos = new Map(live.map((n) => [n.key, n.overlay.membership.info]));
  const recordOf = (n: SimNode): MemberRecord => ({ key: n.key, pos: n.pos, info: infos.get(n.key)!, coordinate: null, status: 'alive', inc: 0, joinedAt: 0, lastSeen: 0 });
  ring.forEach((node, i) => {
    const chosen = new Set<SimNode>();
    for (let k = -half; k <= half; k++) chosen.add(ring[(i + k + ring.length) % ring.length]!);
    for (let a = 0, j = 0; a < arcs && j < ring.length; a++) {
      let taken = 0;
      while (j < ring.length && Math.floor((ring[j]!.pos * arcs) / 2 ** 48) <= a) {
        if (Math.floor((ring[j]!.pos * arcs) / 2 ** 48) === a && taken++ < 2) chosen.add(ring[j]!);
        j++;
      }
    }
    while (chosen.size < Math.min(o.nodes, config.maxKnownMembers + 1)) chosen.add(live[Math.floor(random() * live.length)]!);
    chosen.delete(node);
    for (const other of chosen) node.overlay.table.put(recordOf(other), () => true);
    node.overlay.table.forgotten = o.nodes - 1 - node.overlay.table.size;
  });
  for (const n of live) {
    n.overlay.start();
    n.overlay.views.maintain();
    publish(n);
  }

  function publish(n: SimNode): void {
    for (let e = 0; e < o.entitiesPerNode; e++) {
      const id = `e:${hexKey(random).slice(0, 32)}`;
      n.entities.push(id);
      n.overlay.registry.publish(id);
    }
  }

  const crashOne = (): void => {
    const victim = live[Math.floor(random() * live.length)];
    if (!victim) return;
    diag.crashed(victim);
    victim.alive = false;
    victim.overlay.stop();
    net.crash(victim.key);
    crashedAt.set(victim.key, clock.now());
    const last = live.pop()!;
    if (last !== victim) {
      live[victim.index] = last;
      last.index = victim.index;
    }
    byKey.delete(victim.key);
  };
  const joinOne = (): void => {
    const node = addNode(Math.floor(random() * sites), clock.now());
    joinsPending.set(node.key, clock.now());
    // The topic lookup finds a few members at random.
    const others = live.length - 1;
    node.overlay.join(others > 0 ? [0, 1].map(() => live[Math.floor(random() * others)]!.key) : []);
    clock.setTimer(5000, () => node.alive && publish(node));
  };
  const lookupOne = (): void => {
    const from = live[Math.floor(random() * live.length)];
    const holder = live[Math.floor(random() * live.length)];
    // Both settled: a node that joined less than 10 s ago is still being announced (join convergence).
    if (!from || !holder || holder.entities.length === 0 || clock.now() - holder.bornAt < 10_000 || clock.now() - from.bornAt < 10_000) return;
    const id = holder.entities[Math.floor(random() * holder.entities.length)]!;
    const t0 = clock.now();
    from.overlay.registry.find(id, (r) => {
      if (!from.alive) return;
      if (!holder.alive) return diag.holderDied();
      const ok = r.records.some((x) => x.by === holder.key) || from === holder;
      lookups.push({ hops: r.hops, ms: clock.now() - t0, ok });
      if (!ok) diag.lookupFailed(from, holder, id, r.ok, r.hops);
    });
  };
  /** A joiner has converged once the live members of its true ring window all know it. */
  const checkJoins = (): void => {
    if (joinsPending.size === 0) return;
    const sorted = [...live].sort((a, b) => a.pos - b.pos);
    const index = new Map(sorted.map((n, i) => [n.key, i]));
    const w = windowHalfFor(sorted.length, config.ringWindowMin);
    for (const [key, at] of joinsPending) {
      const i = index.get(key);
      if (i === undefined) {
        joinsPending.delete(key);
        continue;
      }
      let known = true;
      for (let k = -w; k <= w && known; k++) {
        const other = sorted[(i + k + sorted.length) % sorted.length]!;
        if (other.key !== key && !other.overlay.table.has(key)) known = false;
      }
      if (known) {
        joinsPending.delete(key);
        if (at >= measureFrom) joinTimes.push((clock.now() - at) / 1000);
      }
    }
  };

  // Churn and lookups as Poisson processes over the measured part.
  const end = measureFrom + o.durationS * 1000;
  const churnRate = (o.churn * o.nodes) / 60_000;
  if (churnRate > 0) {
    const next = (): void => {
      clock.setTimer(exponential(random, churnRate), () => {
        if (clock.now() > end) return;
        crashOne();
        joinOne();
        next();
      });
    };
    clock.setTimer(measureFrom, next);
  }
  const lookupRate = (o.lookupRate * o.nodes) / 1000;
  if (lookupRate > 0) {
    const next = (): void => {
      clock.setTimer(exponential(random, lookupRate), () => {
        if (clock.now() > end) return;
        lookupOne();
        next();
      });
    };
    clock.setTimer(measureFrom, next);
  }

  let sentAtStart = { messages: 0, bytes: 0 };
  let nodeSeconds = 0;
  let knownSum = 0;
  let knownSamples = 0;
  for (let t = 1000; t <= end + 10_000; t += 1000) {
    clock.run(t);
    if (t === measureFrom) sentAtStart = { messages: net.messages, bytes: net.bytes };
    if (t > measureFrom && t <= end) {
      nodeSeconds += live.length;
      if (t % 10_000 === 0) {
        for (const n of live) knownSum += n.overlay.table.size;
        knownSamples += live.length;
      }
    }
    if (t % 2000 === 0) checkJoins();
    onProgress?.(Math.min(1, t / (end + 10_000)));
  }
  const sent = { messages: net.messages, bytes: net.bytes };
  const crashesCounted = [...crashedAt.values()].filter((at) => at <= end - 10_000).length;
  const durationS = o.durationS;
  return {
    nodes: o.nodes,
    duration_s: durationS,
    loss: o.loss,
    churn_per_min: o.churn,
    crashes: crashedAt.size,
    detection_p50_s: round(quantile(detections, 0.5)),
    detection_p99_s: round(quantile(detections, 0.99)),
    detection_max_s: round(Math.max(...detections)),
    undetected: Math.max(0, crashesCounted - detections.length),
    false_positives_per_node_hour: round(falsePositives / (nodeSeconds / 3600), 4),
    false_deaths: falseDeaths,
    // Sent and received: each message is sent by one node and received by another.
    msgs_per_node_s: round((2 * (sent.messages - sentAtStart.messages)) / nodeSeconds, 2),
    bytes_per_node_s: Math.round((2 * (sent.bytes - sentAtStart.bytes)) / nodeSeconds),
    connections_max: net.maxLinksSeen,
    members_known_mean: Math.round(knownSum / Math.max(1, knownSamples)),
    lookups: lookups.length,
    lookup_hops_p50: quantile(lookups.map((l) => l.hops), 0.5),
    lookup_hops_p99: quantile(lookups.map((l) => l.hops), 0.99),
    lookup_latency_p50_ms: round(quantile(lookups.map((l) => l.ms), 0.5), 1),
    lookup_latency_p99_ms: round(quantile(lookups.map((l) => l.ms), 0.99), 1),
    lookup_success: round(lookups.filter((l) => l.ok).length / Math.max(1, lookups.length), 5),
    joins: joinTimes.length,
    join_convergence_s: round(quantile(joinTimes, 0.5)),
    join_convergence_p99_s: round(quantile(joinTimes, 0.99)),
    wall_s: round((performance.now() - wall0) / 1000, 1),
    heap_mb: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    diagnostics: diag.result,
  };
}
