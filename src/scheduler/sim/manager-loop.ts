/**
 * The loop of a manager that plans for a set of hosts from one place (Entropy's and the
 * centralized heuristic's central manager, each Snooze group manager): when the hosts' reports
 * show an overload (or VMs of a crashed host wait for a restart), it collects the reports of the
 * period (the farthest host's latency, and the reports' transfer at the bandwidth), builds the
 * model from them, solves (the solver's time charged to the clock), then sends each action to the
 * host that runs it, which reports its end back; the next iteration starts a period after this one
 * began, or once the plan is over when that took longer. A reactive manager (Snooze's group
 * managers) does not wait for its next period when idle: the first report of an overload wakes it
 * once it has arrived, no sooner than a period after its last planning iteration began.
 */
import type { Model, NodeSpec, VmSpec } from '../model.js';
import { performAction, PlanExecution, toWire } from '../protocol/plan-execution.js';
import type { SolveResult } from '../solver/solve-result.js';
import type { SimContext } from './context.js';
import type { SimEvent } from './event-queue.js';
import { BYTES_PER_VM, MESSAGE_HEADER_BYTES, SimNetwork, transferMs } from './network.js';

export interface ManagerSpec {
  /** Host whose place the manager shares (latencies to the hosts are measured from there). */
  readonly at: number;
  readonly hosts: readonly number[];
  readonly periodMs: number;
  /** Lost VMs this manager restarts. */
  owns(vm: number): boolean;
  /** Solves the model built from the reports; `overloaded` lists the hosts reported over capacity. */
  solve(model: Model, overloaded: readonly string[]): SolveResult;
  /** Woken by a report of an overload when idle rather than at its next period. */
  readonly reactive?: boolean;
}

export interface Manager {
  /** Host h's report shows it over capacity (sent now: it arrives after the latency). */
  overloadReported(h: number): void;
}

export function runManager(ctx: SimContext, spec: ManagerSpec): Manager {
  const { options, queue, cluster, topology, env, actuator, stats, lost, monitoring } = ctx;
  const latency = (h: number): number => topology.latencyMs(spec.at, h);
  const bw = options.bandwidthMBps;
  const farthest = spec.hosts.reduce((m, h) => Math.max(m, latency(h)), 0);

  const reportedOver = (): string[] => spec.hosts.filter((h) => monitoring.sampledOver.has(h) && cluster.alive[h] === 1).map((h) => `h${h}`);
  const lostHere = (): number[] => [...lost].filter((v) => spec.owns(v));

  let pending: SimEvent | null = null;
  let planning = false;
  let lastPlanned = -Infinity;
  const iterate = (): void => {
    pending = null;
    const started = queue.now;
    const next = (): void => {
      planning = false;
      pending = queue.at(Math.max(queue.now, started + spec.periodMs), iterate);
    };
    if (reportedOver().length === 0 && lostHere().length === 0) {
      next();
      return;
    }
    planning = true;
    lastPlanned = started;
    let reportBytes = 0;
    for (const h of spec.hosts) reportBytes += MESSAGE_HEADER_BYTES + BYTES_PER_VM * (cluster.hostVms[h]?.size ?? 0);
    queue.after(farthest + transferMs(reportBytes, bw), () => plan(next));
  };

  const plan = (next: () => void): void => {
    const t0 = env.wallNow();
    const nodes = new Map<string, NodeSpec>();
    const vms = new Map<string, VmSpec>();
    const host = new Map<string, string>();
    for (const h of spec.hosts) {
      if (cluster.alive[h] !== 1) continue;
      const id = `h${h}`;
      nodes.set(id, { id, cpu: options.hostCpu, mem: options.hostMem });
      for (const { vm, cpu } of monitoring.reported(h)) {
        vms.set(`v${vm}`, { id: `v${vm}`, cpu, mem: cluster.vmMem[vm] ?? 0 });
        host.set(`v${vm}`, id);
      }
    }
    const ready = new Set<string>();
    for (const v of lostHere()) {
      vms.set(`v${v}`, { id: `v${v}`, cpu: cluster.vmCpu[v] ?? 0, mem: cluster.vmMem[v] ?? 0 });
      ready.add(`v${v}`);
    }
    const model: Model = { nodes, vms, host, ready, offline: new Set() };
    const result = spec.solve(model, reportedOver());
    const charged = env.computeDelay(env.wallNow() - t0, result.work);
    stats.solveMs.push(charged);
    stats.partitionSizes.push(nodes.size);
    queue.after(charged, () => {
      if (result.status !== 'solved' || !result.plan) {
        stats.unsolvable++;
        next();
        return;
      }
      const actions = result.plan.actions.map((a) => toWire(a, vms));
      // Each action goes to the host that runs it (a migration's source), whose report of its end comes back.
      const run: PlanExecution = new PlanExecution(actions, {
        afterFailure: 'continue',
        launch: (action, step) => {
          const runner = SimNetwork.index(action.kind === 'migrate' ? action.from : action.kind === 'start' ? action.host : action.node);
          queue.after(latency(runner) + transferMs(MESSAGE_HEADER_BYTES, bw), () => {
            performAction(actuator, action).then(
              () => queue.after(latency(runner), () => run.complete(step, true)),
              () => queue.after(latency(runner), () => run.complete(step, false)),
            );
          });
        },
        finished: () => next(),
      });
      run.start();
    });
  };
  pending = queue.after(0, iterate);
  return {
    overloadReported(h) {
      if (!spec.reactive || planning) return;
      const at = Math.max(queue.now + latency(h), lastPlanned + spec.periodMs);
      if (pending && pending.t <= at) return;
      if (pending) pending.cancelled = true;
      pending = queue.at(at, iterate);
    },
  };
}
