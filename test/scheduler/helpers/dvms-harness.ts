import { NodeAgent, type AgentObserver, type NodeAgentOptions } from '../../../src/scheduler/protocol/node-agent.js';
import { RingOrder, VivaldiOrder } from '../../../src/scheduler/protocol/neighbours.js';
import type { AgentEnvironment, HostActuator } from '../../../src/scheduler/protocol/transport.js';
import { seededRandom, uniformInt } from '../../../src/scheduler/random.js';
import { SimCluster } from '../../../src/scheduler/sim/cluster.js';
import { EventQueue, type SimEvent } from '../../../src/scheduler/sim/event-queue.js';
import { SimNetwork } from '../../../src/scheduler/sim/network.js';
import { SyncThenable } from '../../../src/scheduler/sim/sync-thenable.js';

export interface HarnessOptions {
  hosts: number;
  vmsPerHost: number;
  seed: number;
  /** Extra random delay per message, ms. */
  jitterMs: number;
  latencyMs?: number;
  ring?: boolean;
  agent?: Partial<NodeAgentOptions>;
}

/** A small DVMS cluster with an observer that records every invariant breach. */
export class DvmsHarness {
  readonly queue = new EventQueue();
  readonly cluster: SimCluster;
  readonly agents: NodeAgent[];
  readonly violations: string[] = [];
  readonly reservation = new Map<string, string | null>();
  readonly inFlight = new Map<string, string>();
  readonly solved: number[] = [];
  /** Transitions the agents took, counted by `input: from -> to`. */
  readonly transitions = new Map<string, number>();
  /** Called on every transition an agent takes (after it is counted). */
  readonly onTransition: ((node: string, from: string, input: string, to: string) => void)[] = [];
  migrations = 0;
  unsolvable = 0;
  merges = 0;
  private readonly rng;

  constructor(readonly o: HarnessOptions) {
    this.rng = seededRandom(o.seed);
    const vms = o.hosts * o.vmsPerHost;
    this.cluster = new SimCluster({ hosts: o.hosts, vms, hostCpu: 400, hostMem: 64 * 1024, vmMem: 1024, vmCpu: 100 });
    for (let v = 0; v < vms; v++) {
      this.cluster.vmCpu[v] = 10 * uniformInt(this.rng, 8);
      this.cluster.place(v, v % o.hosts, 0);
    }
    const alive = (h: number): boolean => this.cluster.alive[h] === 1;
    const net = new SimNetwork({ queue: this.queue, latencyMs: () => o.latencyMs ?? 5, jitterMs: o.jitterMs, rng: this.rng, isAlive: alive });
    const env: AgentEnvironment = {
      now: () => this.queue.now,
      setTimer: (ms, fn) => this.queue.after(ms, fn),
      clearTimer: (h) => {
        (h as SimEvent).cancelled = true;
      },
      computeDelay: (_wall, work) => work * 0.0001,
      wallNow: () => 0,
    };
    const actuator: HostActuator = {
      migrate: (vm, from, to) => {
        const p = new SyncThenable();
        const v = Number(vm.slice(1));
        this.queue.after(500 + this.rng.next() * 500, () => {
          const f = SimNetwork.index(from);
          const t = SimNetwork.index(to);
          if (alive(f) && alive(t) && this.cluster.vmHost[v] === f) {
            this.cluster.move(v, t, this.queue.now / 1000);
            this.migrations++;
            p.resolve();
          } else p.reject(new Error('failed'));
        });
        return p;
      },
      start: () => {
        const p = new SyncThenable();
        p.reject(new Error('unsupported'));
        return p;
      },
    };
    const observer: AgentObserver = {
      reserved: (node, pid) => {
        this.reservation.set(node, pid);
      },
      migrationStarted: (pid, vm, from, to) => {
        for (const n of [from, to]) {
          const r = this.reservation.get(n) ?? null;
          if (r !== pid) this.violations.push(`${pid} moves ${vm} while ${n} is reserved by ${r}`);
        }
        const other = this.inFlight.get(vm);
        if (other !== undefined) this.violations.push(`${vm} moved by ${pid} while moving for ${other}`);
        this.inFlight.set(vm, pid);
      },
      migrationEnded: (_pid, vm) => {
        this.inFlight.delete(vm);
      },
      eventSolved: (e, _size, at) => {
        this.solved.push(at - e.at);
      },
      eventUnsolvable: () => {
        this.unsolvable++;
      },
      partitionMerged: () => {
        this.merges++;
      },
      transition: (node, from, input, to) => {
        const key = `${input}: ${from} -> ${to}`;
        this.transitions.set(key, (this.transitions.get(key) ?? 0) + 1);
        for (const fn of this.onTransition) fn(node, from, input, to);
      },
    };
    const ids = Array.from({ length: o.hosts }, (_, h) => `h${h}`);
    const order = o.ring ? new RingOrder(ids) : new VivaldiOrder(ids, { distance: (a, b) => Math.abs(SimNetwork.index(a) - SimNetwork.index(b)) });
    this.agents = ids.map(
      (id, h) =>
        new NodeAgent({
          id,
          transport: net.transport(h),
          env,
          monitor: {
            snapshot: () => ({
              node: { id, cpu: 400, mem: 64 * 1024 },
              vms: [...(this.cluster.hostVms[h] ?? [])].map((v) => ({ id: `v${v}`, cpu: this.cluster.vmCpu[v] ?? 0, mem: 1024 })),
            }),
          },
          actuator,
          neighbours: order,
          observer,
          rng: seededRandom(o.seed + h),
          leaseMs: 3_000,
          keepaliveMs: 1_000,
          probeTimeoutMs: 500,
          handoverTimeoutMs: 500,
          execTimeoutMs: 5_000,
          // Saturated runs send many partitions to the exact fallback: a short limit keeps them fast.
          solve: { exact: { maxNodes: 4, timeLimitMs: 20 } },
          ...o.agent,
        }),
    );
    this.cluster.onChange = (h) => {
      if (alive(h) && this.cluster.overloaded(h)) this.agents[h]?.sample();
    };
  }

  /** Random load changes every `everyMs` on average until `untilMs`. */
  injectLoads(everyMs: number, untilMs: number): void {
    const step = (): void => {
      if (this.queue.now > untilMs) return;
      const v = uniformInt(this.rng, this.cluster.vmCpu.length);
      this.cluster.setLoad(v, 10 * uniformInt(this.rng, 11), this.queue.now / 1000);
      this.queue.after(this.rng.next() * 2 * everyMs, step);
    };
    this.queue.after(0, step);
  }

  crash(h: number): void {
    this.agents[h]?.destroy();
    this.cluster.crash(h, this.queue.now / 1000);
  }

  run(untilMs: number): void {
    for (let ev = this.queue.next(untilMs); ev; ev = this.queue.next(untilMs)) ev.fn();
  }

  /** Nodes still reserved although alive: each must belong to a partition with a live leader. */
  orphans(): string[] {
    const leaders = new Set(this.agents.filter((a, h) => a.isLeader && this.cluster.alive[h] === 1).map((a) => a.partition));
    return this.agents.filter((a, h) => this.cluster.alive[h] === 1 && a.partition !== null && !leaders.has(a.partition)).map((a) => a.id);
  }
}
