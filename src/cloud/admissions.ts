/**
 * Admission of computes at the node nearest the user (the origin). A compute that fits here is
 * served here; otherwise the origin raises a DVMS admission event and keeps the request: the
 * partition grows over the Vivaldi-nearest neighbours until its solver places the VM, and the
 * chosen node claims the request from the origin (`cloud/claim`), which then creates the compute
 * there through the claimant's own OCCI surface. A claim is granted once: a request that timed
 * out or was found unplaceable can no longer be claimed, so nothing is half-created.
 */
import type { Logger } from 'pino';
import type { JsonValue, Mesh } from '../mesh/mesh.js';
import type { VmSpec } from '../scheduler/model.js';
import type { NodeAgent } from '../scheduler/protocol/node-agent.js';
import { OcciError } from '../occi/errors.js';
import type { NodeSnapshot } from '../scheduler/protocol/transport.js';
import { objectSchema, STRING, STRINGS } from '../mesh/rpc-codecs.js';

export const CLAIM_METHOD = 'cloud/claim';
export const UNPLACEABLE_METHOD = 'cloud/unplaceable';
export const DEFAULT_ADMISSION_TIMEOUT_MS = 20_000;
/**
 * How long a claimant waits for its origin to create the compute on it: the origin's forward to
 * the claimant (10 s by default) and the creation there fit well within.
 */
export const CLAIM_TIMEOUT_MS = 35_000;

/** A VM being admitted; the protocol passes VmSpecs through unchanged, so `origin` reaches the claimant. */
export interface AdmittedVm extends VmSpec {
  readonly origin: string;
}

export function isAdmittedVm(vm: VmSpec): vm is AdmittedVm {
  return typeof (vm as Partial<AdmittedVm>).origin === 'string';
}

/** Creates the compute on the claimant and answers the client; resolves with the HTTP status. */
export type PlaceRequest = (claimant: string) => Promise<number>;

interface Pending {
  vm: AdmittedVm;
  place: PlaceRequest;
  state: 'waiting' | 'claimed' | 'settled';
  resolve(where: string): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

export interface AdmissionsOptions {
  mesh: Mesh;
  agent: NodeAgent;
  logger: Logger;
  timeoutMs?: number;
}

export class Admissions {
  private readonly pending = new Map<string, Pending>();
  private readonly timeoutMs: number;

  constructor(private readonly opts: AdmissionsOptions) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_ADMISSION_TIMEOUT_MS;
    opts.mesh.handle(CLAIM_METHOD, (payload, from) => this.claim((payload as { id: string }).id, from), objectSchema({ id: STRING }));
    opts.mesh.handle(
      UNPLACEABLE_METHOD,
      (payload) => {
        for (const id of (payload as { ids: string[] }).ids) this.unplaceable(id);
        return true;
      },
      objectSchema({ ids: STRINGS }),
    );
  }

  /**
   * Places a VM that does not fit at the origin through a DVMS partition. Resolves with the key of
   * the claimant once `place` answered the client (with the claimant's answer, success or not);
   * rejects, with the client not answered yet, when no node within reach has room before the
   * deadline or the claimant could not be reached.
   */
  viaPartition(vm: AdmittedVm, place: PlaceRequest): Promise<string> {
    if (this.pending.has(vm.id)) return Promise.reject(OcciError.conflict(`compute ${vm.id} is already being admitted`));
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(vm.id, noRoom(vm, `none claimed it within ${this.timeoutMs / 1000} s`)), this.timeoutMs);
      this.pending.set(vm.id, { vm, place, state: 'waiting', resolve, reject, timer });
      this.opts.logger.info({ vm: vm.id, cpu: vm.cpu, mem: vm.mem }, 'no room here: admission through a partition');
      this.opts.agent.admit([vm]);
    });
  }

  /** Claims an admission for this node from its origin (this node or another); true once created here. */
  async claimFrom(origin: string, id: string): Promise<boolean> {
    const { mesh } = this.opts;
    const answer =
      origin === mesh.key
        ? await this.claim(id, mesh.key)
        : await mesh.request<JsonValue>(origin, CLAIM_METHOD, { id }, { timeoutMs: CLAIM_TIMEOUT_MS });
    return (answer as { ok?: boolean } | null)?.ok === true;
  }

  /** A claimant the partition chose asks for the request (runs on the origin). */
  private async claim(id: string, claimant: string): Promise<JsonValue> {
    const p = this.pending.get(id);
    if (!p || p.state !== 'waiting') return { ok: false };
    p.state = 'claimed';
    clearTimeout(p.timer);
    try {
      const status = await p.place(claimant);
      this.settle(id);
      // The client has the claimant's answer, whatever it was.
      p.resolve(claimant);
      return { ok: status < 300, status };
    } catch (err) {
      this.settle(id);
      p.reject(err);
      return { ok: false };
    }
  }

  /** The partition found no placement for this VM (runs on the origin). */
  unplaceable(id: string): void {
    const p = this.pending.get(id);
    if (p?.state === 'waiting') this.fail(id, noRoom(p.vm, 'the partition found no node with room that its constraints allow'));
  }

  private fail(id: string, err: OcciError): void {
    const p = this.pending.get(id);
    if (!p || p.state !== 'waiting') return;
    this.settle(id);
    this.opts.logger.warn({ vm: id, err: err.message }, 'admission failed');
    p.reject(err);
  }

  private settle(id: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    p.state = 'settled';
    clearTimeout(p.timer);
    this.pending.delete(id);
  }

  close(): void {
    for (const id of [...this.pending.keys()]) this.fail(id, OcciError.unavailable('the node is shutting down'));
    this.opts.mesh.unhandle(CLAIM_METHOD).unhandle(UNPLACEABLE_METHOD);
  }
}

function noRoom(vm: VmSpec, why: string): OcciError {
  return OcciError.unavailable(`no capacity: no node within reach can host ${vm.cpu / 100} cores and ${vm.mem} MiB (${why})`);
}

/** True when the VM fits on this node now, as far as capacity and its placement rules go. */
export function fitsHere(vm: VmSpec, self: string, snapshot: NodeSnapshot): boolean {
  let cpu = vm.cpu;
  let mem = vm.mem;
  for (const v of snapshot.vms) {
    cpu += v.cpu;
    mem += v.mem;
  }
  if (cpu > snapshot.node.cpu || mem > snapshot.node.mem) return false;
  const p = vm.placement;
  if (!p) return true;
  if (p.ban?.includes(self)) return false;
  if (p.fence && p.fence.length > 0 && !p.fence.includes(self)) return false;
  const spread = new Set(p.spread ?? []);
  return !snapshot.vms.some((v) => v.placement?.spread?.some((g) => spread.has(g)));
}
