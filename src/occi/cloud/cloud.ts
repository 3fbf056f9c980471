/**
 * The node's part of the one cloud: its Local Resource Tracker (a DVMS NodeAgent over the mesh,
 * monitoring this node's hypervisor host), admission of computes, and moves between nodes.
 * Scheduler node ids are mesh keys; scheduler VM ids are compute ids (= domain UUIDs).
 */
import type { Logger } from 'pino';
import type { Hypervisor } from '../../hypervisor/hypervisor.js';
import { MeshNeighbourOrder, MeshSchedulerTransport, meshDistance } from '../../mesh/scheduler-link.js';
import type { Mesh } from '../../mesh/mesh.js';
import { HypervisorMonitor } from '../../scheduler/hypervisor-monitor.js';
import type { VmSpec } from '../../scheduler/model.js';
import type { VmPlacement } from '../../scheduler/placement.js';
import { NodeAgent, type NodeAgentOptions } from '../../scheduler/protocol/node-agent.js';
import { realEnvironment } from '../../scheduler/protocol/transport.js';
import type { Entity } from '../entity.js';
import type { OcciService } from '../service.js';
import { CloudActuator } from './actuator.js';
import { Admissions, type AdmittedVm, fitsHere, type PlaceRequest, UNPLACEABLE_METHOD } from './admissions.js';
import { Moves } from './moves.js';
import { demandOf } from './vm-demand.js';

/** How often the node samples its host and checks for overload (ms). */
export const DEFAULT_SAMPLING_MS = 2_000;

export type AgentTuning = Partial<
  Pick<NodeAgentOptions, 'leaseMs' | 'keepaliveMs' | 'probeTimeoutMs' | 'handoverTimeoutMs' | 'execTimeoutMs' | 'retryMs' | 'unsolvableBackoffMs' | 'underloadThreshold' | 'headroom'>
>;

export interface CloudOptions {
  mesh: Mesh;
  service: OcciService;
  hypervisor: Hypervisor;
  logger: Logger;
  /** This host's capacity for the scheduler (cpu in % of a core, mem in MiB); default: the hypervisor's. */
  capacity?: { cpu: number; mem: number };
  /** The placement rules of a compute (from its placement mixins). */
  placementOf?: (compute: Entity) => VmPlacement | undefined;
  samplingMs?: number;
  admissionTimeoutMs?: number;
  agent?: AgentTuning;
}

/** Where an admission stands: served here (release the held capacity once answered) or placed elsewhere. */
export type Admission = { where: 'here'; release(): void } | { where: 'elsewhere'; node: string };

export class Cloud {
  readonly monitor: HypervisorMonitor;
  readonly agent: NodeAgent;
  readonly moves: Moves;
  readonly actuator: CloudActuator;
  private readonly admissions: Admissions;
  private readonly transport: MeshSchedulerTransport;
  private readonly neighbours: MeshNeighbourOrder;
  private sampler: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: CloudOptions) {
    const { mesh, service, hypervisor, logger } = opts;
    const log = logger.child({ part: 'cloud' });
    this.monitor = new HypervisorMonitor(hypervisor, {
      nodeId: mesh.key,
      ...(opts.capacity ? { capacity: opts.capacity } : {}),
      placementOf: (id) => this.placementOfId(id),
    });
    this.transport = new MeshSchedulerTransport(mesh, { logger: log });
    this.neighbours = new MeshNeighbourOrder(mesh);
    this.moves = new Moves({ mesh, service, logger: log, arriving: (records) => records[0] && this.hold(demandOf(records[0])) });
    let admissions: Admissions | undefined;
    this.actuator = new CloudActuator({
      mesh,
      moves: this.moves,
      hold: (vm) => this.hold(vm),
      claim: (origin, id) => admissions!.claimFrom(origin, id),
    });
    this.agent = new NodeAgent({
      id: mesh.key,
      transport: this.transport,
      env: realEnvironment(),
      monitor: this.monitor,
      actuator: this.actuator,
      neighbours: this.neighbours,
      distance: meshDistance(mesh),
      observer: {
        eventUnsolvable: (event) => {
          const ids = (event.vms ?? []).map((v) => v.id);
          if (event.kind !== 'admission' || ids.length === 0) return;
          if (event.origin === mesh.key) for (const id of ids) admissions!.unplaceable(id);
          else mesh.request(event.origin, UNPLACEABLE_METHOD, { ids }).catch(() => undefined);
        },
        migrationStarted: (pid, vm, _from, to) => log.info({ pid, vm, to: mesh.member(to)?.name ?? to.slice(0, 8) }, 'migration started'),
        eventSolved: (event, size, _at, migrations) => log.info({ event: event.kind, partition: size, migrations }, 'event solved'),
      },
      ...opts.agent,
    });
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
        this.opts.mesh.setCapacity({ ...this.monitor.snapshot().node, used: this.monitor.usage() });
        if (!this.closed) this.agent.sample();
      } catch (err) {
        this.opts.logger.warn({ err }, 'monitoring round failed');
      } finally {
        this.sampling = undefined;
      }
    })();
    return this.sampling;
  }

  /** The scheduler's view of a compute about to be created here or elsewhere. */
  vmOf(compute: Entity): AdmittedVm {
    const placement = this.opts.placementOf?.(compute);
    return { ...demandOf(compute), ...(placement ? { placement } : {}), origin: this.opts.mesh.key };
  }

  /**
   * Admits a compute at this node: it is served here when it fits (capacity held until `release`),
   * else through a partition, whose chosen node gets the request through `place`.
   */
  async admit(compute: Entity, place: PlaceRequest): Promise<Admission> {
    const vm = this.vmOf(compute);
    if (fitsHere(vm, this.opts.mesh.key, this.monitor.snapshot())) return { where: 'here', release: this.hold(vm) };
    return { where: 'elsewhere', node: await this.admissions.viaPartition(vm, place) };
  }

  /** Capacity held for a VM on its way to this host; the returned function gives it back. */
  private hold(vm: VmSpec): () => void {
    this.monitor.reserve(vm);
    return () => void this.sample().finally(() => this.monitor.release(vm.id));
  }

  private placementOfId(id: string): VmPlacement | undefined {
    const e = this.opts.service.entityAt(`/compute/${id}`);
    return e ? this.opts.placementOf?.(e) : undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sampler);
    this.admissions.close();
    this.agent.close();
    this.moves.close();
    this.transport.close();
    this.neighbours.close();
  }
}
