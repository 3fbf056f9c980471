/** The DVMS driver of the simulator: one NodeAgent per host on the simulated network, sampled by the monitoring when its host is over capacity. */
import type { VmSpec } from '../model.js';
import { NodeAgent, type AgentObserver } from '../protocol/node-agent.js';
import { RingOrder, VivaldiOrder, type NeighbourOrder } from '../protocol/neighbours.js';
import { seededRandom, type RandomSource } from '../random.js';
import type { SimContext } from './context.js';
import { SimNetwork } from './network.js';

const MODELLED_EXACT_LIMIT_MS = 10_000;

export interface DvmsDriver {
  readonly network: SimNetwork;
  /** A host crashed with these VMs: its agent stops, and `detector` reports the loss after the detection delay. */
  crashed(host: number, vms: VmSpec[], detector: number): void;
}

/** `dvms` ranks neighbours by the topology's coordinates (or RTTs), `dvms-ring` by the ring of ids. */
export function runDvms(ctx: SimContext, scheduler: 'dvms' | 'dvms-ring', rng: RandomSource): DvmsDriver {
  const { options, queue, cluster, topology, env, actuator, stats, alive, monitoring } = ctx;
  const ids = Array.from({ length: options.hosts }, (_, h) => `h${h}`);
  let order: NeighbourOrder;
  if (scheduler === 'dvms-ring') order = new RingOrder(ids);
  else if (topology.coordinates) {
    const coords = new Map(ids.map((id, h) => [id, Array.from(topology.coordinates?.[h] ?? [0])] as const));
    order = new VivaldiOrder(ids, { coordinates: coords });
  } else order = new VivaldiOrder(ids, { distance: (a, b) => topology.rttMs(SimNetwork.index(a), SimNetwork.index(b)) });
  const network = new SimNetwork({ queue, latencyMs: topology.latencyMs, jitterMs: options.jitterMs, rng, isAlive: alive, bandwidthMBps: options.bandwidthMBps });

  const observer: AgentObserver = {
    eventCreated: () => {
      stats.events++;
    },
    eventSolved: (e, size, at) => {
      stats.solveMs.push(at - e.at);
      stats.partitionSizes.push(size);
    },
    eventUnsolvable: (_e, size) => {
      stats.unsolvable++;
      stats.partitionSizes.push(size);
    },
  };
  const agents = ids.map(
    (id, h) =>
      new NodeAgent({
        id,
        transport: network.transport(h),
        env,
        monitor: {
          snapshot: () => ({
            node: { id, cpu: options.hostCpu, mem: options.hostMem },
            vms: [...(cluster.hostVms[h] ?? [])].map((v) => ({ id: `v${v}`, cpu: cluster.vmCpu[v] ?? 0, mem: cluster.vmMem[v] ?? 0 })),
          }),
          // Overloads are detected on the last sample (and only while they last: a probe reads the host now).
          load: () => ({ cpu: Math.min(monitoring.sampledCpu[h] ?? 0, cluster.hostCpu[h] ?? 0), mem: cluster.hostMem[h] ?? 0 }),
        },
        actuator,
        neighbours: order,
        observer,
        rng: seededRandom((options.seed * 31 + h) >>> 0),
        // With a modelled solve time the exact fallback gets a limit it never reaches, so that a run is the same for a seed.
        solve: { timeBudgetMs: options.solveBudgetMs, ...(options.solveTime === 'model' ? { exact: { timeLimitMs: MODELLED_EXACT_LIMIT_MS } } : {}) },
        minPartitionSize: options.minPartitionSize,
        underloadThreshold: options.underload,
        headroom: options.headroom,
      }),
  );
  monitoring.onOverloadSample((h) => agents[h]?.sample());
  const under = options.underload * options.hostCpu;
  if (under > 0) {
    const sampled = cluster.onChange;
    cluster.onChange = (h) => {
      sampled?.(h);
      if (alive(h) && (cluster.hostCpu[h] ?? 0) < under) agents[h]?.sample();
    };
  }
  return {
    network,
    crashed(host, vms, detector) {
      agents[host]?.destroy();
      queue.after(options.crashDetectS * 1000, () => agents[detector]?.nodeLost(`h${host}`, vms));
    },
  };
}
