/**
 * How this node applies the plan actions a partition sends it: a `start` on this node claims the
 * admission from its origin (which then creates the compute here); a `migrate` from this node moves
 * the compute to the target node. Other kinds of start (restarts after a node loss) are handled by
 * the starters registered with `onStart`.
 */
import type { Mesh } from '../mesh/mesh.js';
import type { VmSpec } from '../scheduler/model.js';
import type { HostActuator } from '../scheduler/protocol/transport.js';
import { isAdmittedVm } from './admissions.js';
import type { Moves } from './moves.js';

/** Starts a VM of a kind it recognises; returns undefined for the others. */
export type Starter = (vm: VmSpec) => Promise<void> | undefined;

export interface CloudActuatorOptions {
  mesh: Mesh;
  moves: Moves;
  /** Capacity held on this node while a VM it accepted is being created. */
  hold(vm: VmSpec): () => void;
  /** Asks the admission's origin (maybe this node) to create the VM here; true once created. */
  claim(origin: string, id: string): Promise<boolean>;
  /** Samples the host again (after a compute left, so that it no longer counts here). */
  refresh(): Promise<unknown>;
}

export class CloudActuator implements HostActuator {
  private readonly starters: Starter[] = [];

  constructor(private readonly opts: CloudActuatorOptions) {}

  onStart(starter: Starter): void {
    this.starters.push(starter);
  }

  async start(vm: VmSpec, host: string): Promise<void> {
    const { mesh } = this.opts;
    if (host !== mesh.key) throw new Error(`start of ${vm.id} sent to ${mesh.key.slice(0, 8)} for ${host.slice(0, 8)}`);
    const release = this.opts.hold(vm);
    try {
      if (isAdmittedVm(vm)) {
        if (!(await this.opts.claim(vm.origin, vm.id))) throw new Error(`admission of ${vm.id} was not granted by its origin`);
        return;
      }
      for (const starter of this.starters) {
        const started = starter(vm);
        if (started) return await started;
      }
      throw new Error(`no way to start ${vm.id} here`);
    } finally {
      release();
    }
  }

  async migrate(vm: string, from: string, to: string): Promise<void> {
    if (from !== this.opts.mesh.key) throw new Error(`migration of ${vm} sent to ${this.opts.mesh.key.slice(0, 8)}, not its source`);
    await this.opts.moves.moveTo(vm, to);
    await this.opts.refresh().catch(() => undefined);
  }
}
