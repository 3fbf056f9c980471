/**
 * The node's part of the one cloud: its Local Resource Tracker (a DVMS NodeAgent over the mesh,
 * monitoring this node's hypervisor host), admission of computes, and moves between nodes.
 * Scheduler node ids are mesh keys; scheduler VM ids are compute ids (= domain UUIDs).
 */
import type { Logger } from 'pino';
import type { Hypervisor } from '../hypervisor/hypervisor.js';
import { MeshNeighbourOrder, MeshSchedulerTransport, meshDistance } from './scheduler-link.js';
import type { Mesh } from '../mesh/mesh.js';
import type { PresenceRecords } from '../mesh/records/presence-records.js';
import { HypervisorMonitor } from '../scheduler/hypervisor-monitor.js';
import type { VmSpec } from '../scheduler/model.js';
import type { VmPlacement } from '../scheduler/placement.js';
import { type AgentObserver, NodeAgent, type NodeAgentOptions } from '../scheduler/protocol/node-agent.js';
import { realEnvironment } from '../scheduler/protocol/transport.js';
import type { Entity } from '../occi/entity.js';
import { OcciError } from '../occi/errors.js';
import type { OcciService } from '../occi/service.js';
import { CloudActuator } from './actuator.js';
import { Admissions, type AdmittedVm, fitsHere, type PlaceRequest, UNPLACEABLE_METHOD } from './admissions.js';
import { Custody } from './custody.js';
import { DiskRoom } from './disk-room.js';
import { Moves } from './moves.js';
import { cpuShare, DEFAULT_CPU_ALLOCATION_RATIO, demandOf } from './vm-demand.js';

export const GROUPS_METHOD = 'cloud/groups';
const GROUPS_DEADLINE_MS = 2_000;

/**
 * Protocol timeouts of a real node: a member that is busy (or far) must not be taken for dead while
 * a partition probes it or hands over to it; 2 s (the simulator's) proved too short on loaded hosts.
 */
const REAL_NODE_TIMEOUTS: AgentTuning = { probeTimeoutMs: 5_000, handoverTimeoutMs: 5_000 };
/** Measured CPU above capacity by less than this fraction is measuring error, not an overload. */
const REAL_NODE_OVERLOAD_MARGIN = 0.02;

/** How often the node samples its host and checks for overload (ms). */
export const DEFAULT_SAMPLING_MS = 2_000;

export type AgentTuning = Partial<
  Pick<NodeAgentOptions, 'leaseMs' | 'keepaliveMs' | 'probeTimeoutMs' | 'handoverTimeoutMs' | 'execTimeoutMs' | 'retryMs' | 'unsolvableBackoffMs' | 'underloadThreshold' | 'headroom' | 'overloadMargin'>
>;

export interface CloudOptions {
  mesh: Mesh;
  service: OcciService;
  hypervisor: Hypervisor;
  logger: Logger;
  /** This host's capacity for the scheduler (cpu in % of a core, mem in MiB); default: the hypervisor's. */
  capacity?: { cpu: number; mem: number };
  /**
   * The placement rules of a compute (from its placement mixins). `strict`: a rule that cannot be
   * read is an OcciError (admission); otherwise it is skipped (computes already running).
   */
  placementOf?: (compute: Entity, strict: boolean) => VmPlacement | undefined;
  /** vCPUs allocated per host core (see vm-demand.ts). */
  cpuAllocationRatio?: number;
  samplingMs?: number;
  admissionTimeoutMs?: number;
  agent?: AgentTuning;
  /** Told of the agent's events too (after the log): the node's event stream and metrics. */
  observers?: readonly AgentObserver[];
  /** The ring directory's group records (`GROUP_PREFIX`): the hosts of a group found there instead of by asking every member. */
  groups?: PresenceRecords;
}

/** Where an admission stands: served here (release the held capacity once answered) or placed elsewhere. */
export type Admission = { where: 'here'; release(): void } | { where: 'elsewhere'; node: string };

/** One observer that calls the hooks of each of these in turn. */
function tellAll(observers: readonly AgentObserver[]): AgentObserver {
  const hooks = new Set(observers.flatMap((o) => Object.keys(o)) as Array<keyof AgentObserver>);
  const call = (o: AgentObserver, k: keyof AgentObserver, args: unknown[]) => (o[k] as ((...a: unknown[]) => void) | undefined)?.(...args);
  return Object.fromEntries([...hooks].map((k) => [k, (...args: unknown[]) => observers.forEach((o) => call(o, k, args))]));
}

export class Cloud {
  readonly monitor: HypervisorMonitor;
  readonly agent: NodeAgent;
  readonly moves: Moves;
  /** Moves, adoptions, restarts and forgetting of the resources this node holds. */
  readonly custody: Custody;
  readonly actuator: CloudActuator;
  private readonly admissions: Admissions;
  private readonly disk: DiskRoom;
  private readonly transport: MeshSchedulerTransport;
  private readonly neighbours: MeshNeighbourOrder;
  private sampler: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private closed = false;
  private readonly ratio: number;

  constructor(private readonly opts: CloudOptions) {
    const { mesh, service, hypervisor, logger } = opts;
    this.ratio = opts.cpuAllocationRatio ?? DEFAULT_CPU_ALLOCATION_RATIO;
    const log = logger.child({ part: 'cloud' });
    this.monitor = new HypervisorMonitor(hypervisor, {
      nodeId: mesh.key,
      ...(opts.capacity ? { capacity: opts.capacity } : {}),
      placementOf: (id) => this.placementOfId(id),
      minCpuOf: (d) => cpuShare(d.cores, this.ratio),
    });
    this.transport = new MeshSchedulerTransport(mesh, { logger: log });
    this.neighbours = new MeshNeighbourOrder(mesh);
    this.custody = new Custody(service.core);
    this.disk = new DiskRoom(hypervisor, mesh);
    this.moves = new Moves({ mesh, custody: this.custody, hypervisor, logger: log, arriving: (records) => this.hold(demandOf(records[0]!, this.ratio)) });
    let admissions: Admissions | undefined;
    this.actuator = new CloudActuator({
      mesh,
      moves: this.moves,
      hold: (vm) => this.hold(vm),
      claim: (origin, id) => admissions!.claimFrom(origin, id),
      refresh: () => this.monitor.refresh(),
    });
    this.agent = new NodeAgent({
      id: mesh.key,
      transport: this.transport,
      env: realEnvironment(),
      monitor: this.monitor,
      actuator: this.actuator,
      neighbours: this.neighbours,
      distance: meshDistance(mesh),
      observer: tellAll([{
        eventUnsolvable: (event, size) => {
          log.warn({ event: event.kind, origin: mesh.member(event.origin)?.name ?? 'self', partition: size }, 'event unsolvable');
          const ids = (event.vms ?? []).map((v) => v.id);
          if (event.kind !== 'admission' || ids.length === 0) return;
          if (event.origin === mesh.key) for (const id of ids) admissions!.unplaceable(id);
          else mesh.request(event.origin, UNPLACEABLE_METHOD, { ids }).catch(() => undefined);
        },
        migrationStarted: (pid, vm, _from, to) => log.info({ pid, vm, to: mesh.member(to)?.name ?? to.slice(0, 8) }, 'migration started'),
        eventSolved: (event, size, _at, migrations) => log.info({ event: event.kind, partition: size, migrations }, 'event solved'),
      }, ...(opts.observers ?? [])]),
      ...REAL_NODE_TIMEOUTS,
      overloadMargin: REAL_NODE_OVERLOAD_MARGIN,
      ...opts.agent,
    });
    mesh.handle(GROUPS_METHOD, () => this.localGroups());
    admissions = this.admissions = new Admissions({ mesh, agent: this.agent, logger: log, timeoutMs: opts.admissionTimeoutMs });
  }

  /** Samples the host now and then every samplingMs, raising overload events. */
  async start(): Promise<void> {
    await this.sample();
    this.sampler = setInterval(() => void this.sample(), this.opts.samplingMs ?? DEFAULT_SAMPLING_MS);
    this.sampler.unref();
  }

  /** One monitoring round: refresh the host's figures, then let the agent react. Never rejects. */
  sample(): Promise<void> {
    this.sampling ??= (async () => {
      try {
        await this.monitor.refresh();
        const disk = await this.disk.here().catch(() => undefined);
        this.opts.mesh.setCapacity({ ...this.monitor.snapshot().node, used: this.monitor.usage(), ...(disk ? { disk: { ...disk } } : {}) });
        this.opts.groups?.replace(this.localGroups());
        if (!this.closed) this.agent.sample();
      } catch (err) {
        this.opts.logger.warn({ err }, 'monitoring round failed');
      } finally {
        this.sampling = undefined;
      }
    })();
    return this.sampling;
  }

  /**
   * The scheduler's view of a compute about to be created here or elsewhere. A partition sees only
   * some nodes, so the groups it must join (gather, latency) are looked up mesh-wide and become a
   * fence to the nodes where they can be joined; `allowed` (the user's maximum RTT) fences it too.
   * `strict`: rules that cannot be read are an error (a new compute), else skipped (a running one,
   * whose rules may name a node that is gone).
   */
  async vmOf(compute: Entity, allowed?: readonly string[], strict = true): Promise<AdmittedVm> {
    const rules = this.opts.placementOf?.(compute, strict);
    const fences: string[][] = [];
    if (allowed) fences.push([...allowed]);
    if (rules?.fence?.length) fences.push([...rules.fence]);
    const joins = [...(rules?.gather ?? []), ...(rules?.latency ?? []).map((l) => l.group)];
    if (joins.length > 0) {
      const hosts = await this.groupHosts(joins, strict);
      const distance = meshDistance(this.opts.mesh);
      const nodes = [this.opts.mesh.key, ...this.opts.mesh.members().map((m) => m.key)];
      for (const g of rules?.gather ?? []) {
        const at = hosts.get(g);
        if (at?.size) fences.push([...at]);
      }
      for (const { group, maxRttMs } of rules?.latency ?? []) {
        const at = hosts.get(group);
        if (at?.size) fences.push(nodes.filter((n) => [...at].every((h) => distance(n, h) <= maxRttMs)));
      }
    }
    const fence = fences.length > 0 ? fences.reduce((a, b) => a.filter((n) => b.includes(n))) : undefined;
    const placement: VmPlacement | undefined = rules || fence ? { ...rules, ...(fence ? { fence } : {}) } : undefined;
    return { ...demandOf(compute, this.ratio), ...(placement ? { placement } : {}), origin: this.opts.mesh.key };
  }

  /** Nodes (mesh keys) running computes of these groups: on the ring directory when there is one, else asked of every member. */
  private async groupHosts(groups: readonly string[], strict: boolean): Promise<Map<string, Set<string>>> {
    const { mesh } = this.opts;
    const out = new Map<string, Set<string>>();
    const note = (key: string, present: readonly string[]) => {
      for (const g of present) if (groups.includes(g)) (out.get(g) ?? out.set(g, new Set()).get(g)!).add(key);
    };
    note(mesh.key, this.localGroups());
    if (this.opts.groups) {
      const found = await Promise.all(groups.map(async (g) => ({ g, ...(await this.opts.groups!.who(g)) })));
      for (const { g, ok, keys } of found) {
        // A new compute is refused rather than placed against its rules; a running one's rule is skipped.
        if (!ok && strict) throw OcciError.unavailable(`the hosts of placement group ${g} could not be learned: the directory keepers did not answer`);
        for (const key of keys) note(key, [g]);
      }
      return out;
    }
    const { replies } = await mesh.gather<string[]>(GROUPS_METHOD, null, { includeSelf: false, deadlineMs: GROUPS_DEADLINE_MS });
    for (const r of replies) note(r.key, Array.isArray(r.value) ? r.value : []);
    return out;
  }

  /** Gather and latency groups of the computes held here. */
  private localGroups(): string[] {
    const groups = new Set<string>();
    for (const vm of this.monitor.snapshot().vms) {
      for (const g of vm.placement?.gather ?? []) groups.add(g);
      for (const l of vm.placement?.latency ?? []) groups.add(l.group);
    }
    return [...groups];
  }

  /**
   * Admits a compute at this node: it is served here when it fits (capacity held until `release`),
   * else through a partition, whose chosen node gets the request through `place`. `allowed`: the
   * nodes within the user's maximum RTT, when the user set one.
   */
  async admit(compute: Entity, place: PlaceRequest, allowed?: readonly string[]): Promise<Admission> {
    const need = this.disk.demandOf(compute);
    // Disk is no scheduler resource: the nodes without room for the root disk are fenced off.
    const room = need > 0 ? await this.disk.withRoom(need, allowed) : undefined;
    const vm = await this.vmOf(compute, room ?? allowed);
    if (fitsHere(vm, this.opts.mesh.key, this.monitor.snapshot())) {
      const release = this.hold(vm);
      const releaseDisk = this.disk.hold(vm.id, need);
      await this.publishGroups(vm);
      return { where: 'here', release: () => (release(), releaseDisk()) };
    }
    return { where: 'elsewhere', node: await this.admissions.viaPartition(vm, place) };
  }

  /**
   * The placement groups of a VM admitted here, on the ring directory before the admission is
   * acknowledged (read back: a put is not answered), not at the next monitoring round: the next
   * member of the group, admitted through any node, then finds this one.
   */
  private async publishGroups(vm: VmSpec): Promise<void> {
    const { groups } = this.opts;
    if (!groups || !(vm.placement?.gather?.length || vm.placement?.latency?.length)) return;
    groups.replace(this.localGroups());
    if (!(await groups.settled())) this.opts.logger.warn({ vm: vm.id }, 'placement groups not yet read back from the ring directory');
  }

  /** Capacity held for a VM on its way to this host; the returned function gives it back. */
  private hold(vm: VmSpec): () => void {
    this.monitor.reserve(vm);
    // A fresh listing first: a domain that now exists takes over from its reservation.
    return () => void this.monitor.refresh().finally(() => this.monitor.release(vm.id)).catch(() => undefined);
  }

  private placementOfId(id: string): VmPlacement | undefined {
    const e = this.opts.service.entityAt(`/compute/${id}`);
    return e ? this.opts.placementOf?.(e, false) : undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sampler);
    this.opts.mesh.unhandle(GROUPS_METHOD);
    this.admissions.close();
    this.agent.close();
    this.moves.close();
    this.transport.close();
    this.neighbours.close();
  }
}
