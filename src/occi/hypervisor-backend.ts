import { HypervisorError } from '../hypervisor/errors.js';
import type { DomainState, Hypervisor, RestartMethod, SaveMethod, StopMethod, SuspendMethod } from '../hypervisor/hypervisor.js';
import type { AttributeValue } from './attribute.js';
import type { AttributePatch, Backend, BackendContext } from './backend.js';
import { resizeCompute } from './compute-resize.js';
import { diskOf, domainSpecOf, idOf, networkName, networkSpecOf, nicOf, volumeName } from './domain-spec.js';
import { type Entity, linkEnds } from './entity.js';
import { OcciError } from './errors.js';
import { isMissing, isUnreachable, toOcciError } from './hypervisor-errors.js';
import { COMPUTE, NETWORK, NETWORKINTERFACE, STORAGE, STORAGELINK } from './infrastructure-model.js';
import { DEFAULT_IMAGE_CATALOGUE, type ImageEntry, imageOf } from './templates.js';

const ACTION = 'http://schemas.ogf.org/occi/infrastructure/';
const COMPUTE_STATE = 'occi.compute.state';

/** Methods used when an action names none. */
export const DEFAULT_STOP_METHOD: StopMethod = 'graceful';
export const DEFAULT_RESTART_METHOD: RestartMethod = 'graceful';
export const DEFAULT_SUSPEND_METHOD: SuspendMethod = 'suspend';
export const DEFAULT_SAVE_METHOD: SaveMethod = 'hot';

/** The OCCI state of a compute for each domain state; `saved` is a hibernated (suspended) domain. */
const COMPUTE_STATE_OF: Readonly<Record<Exclude<DomainState, 'absent'>, string>> = {
  running: 'active',
  paused: 'suspended',
  saved: 'suspended',
  shutoff: 'inactive',
  crashed: 'error',
};

/** Attributes the hypervisor cannot change on a defined network or domain. */
const FIXED_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  [COMPUTE]: ['occi.compute.architecture'],
  [NETWORK]: ['occi.network.vlan', 'occi.network.address', 'occi.network.gateway'],
};

export interface HypervisorBackendOptions {
  /** The image catalogue behind the os_tpl mixins. */
  images?: ImageEntry[];
  /** What drives the hypervisor, for the log line (e.g. from `openHypervisor`). */
  description?: string;
}

/**
 * The OCCI layer on a {@link Hypervisor}: a compute is a domain (its UUID is the compute id), a
 * network a hypervisor network, a storage a volume, and links are the domains' devices. A failed
 * hypervisor call refuses the request after undoing what the request had done, and maps to an
 * OCCI error (see `hypervisor-errors.ts`). OCCI states follow the hypervisor's: `observe` on read,
 * `follow` for domains that change behind the gateway's back.
 */
export class HypervisorBackend implements Backend {
  readonly description: string;
  readonly hypervisor: Hypervisor;
  readonly #images: ImageEntry[];
  readonly #following = new Set<Promise<void>>();

  constructor(hypervisor: Hypervisor, opts: HypervisorBackendOptions = {}) {
    this.hypervisor = hypervisor;
    this.#images = opts.images ?? DEFAULT_IMAGE_CATALOGUE;
    this.description = `hypervisor: ${opts.description ?? hypervisor.uri}`;
  }

  created(entity: Entity, ctx: BackendContext): Promise<AttributePatch> {
    return this.#mapped(entity, async () => {
      switch (entity.kind) {
        case COMPUTE:
          return this.#createCompute(entity, ctx);
        case NETWORK:
          return this.#createNetwork(entity);
        case STORAGE:
          await this.hypervisor.createVolume({ name: volumeName(entity.id), sizeGiB: Number(entity.attributes['occi.storage.size']) });
          return {};
        case NETWORKINTERFACE:
        case STORAGELINK:
          return this.#attach(entity, ctx);
        default:
          return {};
      }
    });
  }

  updated(before: Entity, after: Entity): Promise<AttributePatch> {
    return this.#mapped(after, async () => {
      for (const name of FIXED_ATTRIBUTES[after.kind] ?? []) {
        if (before.attributes[name] !== after.attributes[name]) throw notImplemented(`${where(after)}: ${name} cannot change once the resource exists`);
      }
      if (after.kind === COMPUTE) {
        if (imageOf(this.#images, before.mixins)?.term !== imageOf(this.#images, after.mixins)?.term) {
          throw notImplemented(`${where(after)}: the os_tpl of an existing compute cannot change`);
        }
        await resizeCompute(this.hypervisor, where(after), before, after);
      }
      if (after.kind === STORAGE && before.attributes['occi.storage.size'] !== after.attributes['occi.storage.size']) {
        await this.hypervisor.resizeVolume(volumeName(after.id), Number(after.attributes['occi.storage.size']));
      }
      return {};
    });
  }

  acted(entity: Entity, action: string, attributes: Record<string, AttributeValue>): Promise<AttributePatch> {
    return this.#mapped(entity, async (): Promise<AttributePatch> => {
      const hv = this.hypervisor;
      const id = entity.id;
      const method = attributes['method'];
      switch (action) {
        case `${ACTION}compute/action#start`:
          await this.#start(id);
          break;
        case `${ACTION}compute/action#stop`:
          await this.#stop(id, (method as StopMethod | undefined) ?? DEFAULT_STOP_METHOD);
          break;
        case `${ACTION}compute/action#restart`:
          await hv.restartDomain(id, (method as RestartMethod | undefined) ?? DEFAULT_RESTART_METHOD);
          break;
        case `${ACTION}compute/action#suspend`:
          await hv.suspendDomain(id, (method as SuspendMethod | undefined) ?? DEFAULT_SUSPEND_METHOD);
          break;
        case `${ACTION}compute/action#save`: {
          const name = attributes['name'];
          const how = (method as SaveMethod | undefined) ?? DEFAULT_SAVE_METHOD;
          // A named save (or a deferred one) is a snapshot; otherwise the running state is saved
          // to disk (managed save) and the next start resumes it.
          if (typeof name === 'string' || how === 'deferred') await hv.saveDomain(id, how, typeof name === 'string' ? name : undefined);
          else {
            await hv.suspendDomain(id, 'hibernate');
            return { [COMPUTE_STATE]: COMPUTE_STATE_OF.saved };
          }
          break;
        }
        case `${ACTION}network/action#up`:
          await hv.networkUp(networkName(id));
          break;
        case `${ACTION}network/action#down`:
          await hv.networkDown(networkName(id));
          break;
        case `${ACTION}storage/action#resize`:
          await hv.resizeVolume(volumeName(id), Number(attributes['size']));
          break;
        case `${ACTION}storage/action#snapshot`:
        case `${ACTION}storage/action#backup`: {
          const kind = action.slice(action.indexOf('#') + 1);
          await hv.snapshotVolume(volumeName(id), `${volumeName(id)}-${kind}-${Date.now().toString(36)}`);
          break;
        }
        // storage online/offline and the links' up/down/online/offline are states of the gateway's
        // own: a volume or an attached device has no such switch in the hypervisor.
      }
      return {};
    });
  }

  async deleted(entity: Entity): Promise<void> {
    await this.#mapped(entity, async () => {
      const hv = this.hypervisor;
      const ends = linkEnds(entity);
      try {
        if (entity.kind === COMPUTE) await hv.undefineDomain(entity.id);
        else if (entity.kind === NETWORK) await hv.removeNetwork(networkName(entity.id));
        else if (entity.kind === STORAGE) await hv.deleteVolume(volumeName(entity.id));
        else if (entity.kind === NETWORKINTERFACE && ends) await hv.detachInterface(idOf(ends.source), entity.id);
        else if (entity.kind === STORAGELINK && ends) await hv.detachDisk(idOf(ends.source), entity.id);
      } catch (err) {
        // Already gone from the hypervisor: the deletion is done.
        if (!isMissing(err)) throw err;
      }
      return {};
    });
  }

  /**
   * The state the hypervisor reports: a compute's from its domain (absent: `error` with a
   * message), a network's from whether it is up, a storage is `error` when its volume is gone.
   * Links keep their stored state; a networkinterface shows the address its NIC obtained. An
   * unreachable hypervisor leaves the stored state as it is.
   */
  async observe(entity: Entity): Promise<AttributePatch | undefined> {
    try {
      switch (entity.kind) {
        case COMPUTE: {
          const { state } = await this.hypervisor.domainInfo(entity.id);
          if (state === 'absent') return error(COMPUTE_STATE, `the domain ${entity.id} no longer exists on ${this.hypervisor.uri}`);
          if (state === 'crashed') return error(COMPUTE_STATE, `the domain ${entity.id} crashed`);
          return { [COMPUTE_STATE]: COMPUTE_STATE_OF[state] };
        }
        case NETWORK:
          return { 'occi.network.state': (await this.hypervisor.networkActive(networkName(entity.id))) ? 'active' : 'inactive' };
        case STORAGE: {
          await this.hypervisor.volumeInfo(volumeName(entity.id));
          return entity.attributes['occi.storage.state'] === 'error' ? { 'occi.storage.state': 'online' } : undefined;
        }
        case NETWORKINTERFACE:
          return await this.#nicAddress(entity);
        default:
          return undefined;
      }
    } catch (err) {
      if (isUnreachable(err)) return undefined;
      if (entity.kind === NETWORK && isMissing(err)) return error('occi.network.state', `the network ${networkName(entity.id)} no longer exists on ${this.hypervisor.uri}`);
      if (entity.kind === STORAGE && isMissing(err)) return error('occi.storage.state', `the volume ${volumeName(entity.id)} no longer exists on ${this.hypervisor.uri}`);
      throw toOcciError(err, where(entity));
    }
  }

  /** The last `lines` lines of a compute's serial console. */
  async console(compute: Entity, lines: number): Promise<string> {
    return this.#mapped(compute, () => this.hypervisor.consoleLog(compute.id, lines));
  }

  /** The address the link's NIC obtained, when its domain runs and has one (the first IPv4 one first). */
  async #nicAddress(link: Entity): Promise<AttributePatch | undefined> {
    const ends = linkEnds(link);
    if (!ends) return undefined;
    let nics;
    try {
      nics = await this.hypervisor.nicAddresses(idOf(ends.source));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    const addresses = nics.find((n) => n.id === link.id)?.addresses ?? [];
    const address = addresses.find((a) => a.includes('.')) ?? addresses[0];
    return address === undefined ? undefined : { 'occi.networkinterface.address': address };
  }

  /**
   * Calls `refresh(id)` for every domain whose state changes, whoever changed it (the hypervisor's
   * watch). Returns the unsubscribe function.
   */
  follow(refresh: (id: string) => Promise<unknown>, onError: (err: unknown) => void): () => void {
    return this.hypervisor.watch((event) => {
      const done: Promise<void> = refresh(event.id).then(
        () => undefined,
        (err: unknown) => onError(err),
      );
      this.#following.add(done);
      void done.finally(() => this.#following.delete(done));
    });
  }

  /** Polls the hypervisor now and resolves when every change it reported has been refreshed (a sync point). */
  async sync(): Promise<void> {
    await this.hypervisor.poll();
    await this.flushed();
  }

  /** Resolves when the refreshes under way have finished. */
  async flushed(): Promise<void> {
    await Promise.all(this.#following);
  }

  // ---- compute ----

  async #createCompute(compute: Entity, ctx: BackendContext): Promise<AttributePatch> {
    const hv = this.hypervisor;
    for (const l of ctx.linksOf(compute.id)) if (l.kind === NETWORKINTERFACE) await this.#realise(idOf(linkEnds(l)!.target), ctx);
    await hv.defineDomain(domainSpecOf(compute, ctx, this.#images));
    const state = compute.attributes[COMPUTE_STATE];
    try {
      if (state === 'active' || state === 'suspended') await hv.startDomain(compute.id);
      if (state === 'suspended') await hv.suspendDomain(compute.id, DEFAULT_SUSPEND_METHOD);
    } catch (err) {
      await hv.undefineDomain(compute.id).catch(() => undefined);
      throw err;
    }
    return {};
  }

  /** To running from whatever the domain's real state is (the OCCI state may lag behind it). */
  async #start(id: string): Promise<void> {
    const { state } = await this.hypervisor.domainInfo(id);
    if (state === 'absent') throw HypervisorError.NO_DOMAIN(id);
    if (state === 'paused' || state === 'saved') await this.hypervisor.resumeDomain(id);
    else if (state !== 'running') await this.hypervisor.startDomain(id);
  }

  /**
   * To shut off. A paused or crashed guest cannot shut itself down: it is powered off. A
   * hibernated one is restored and powered off, which discards its saved memory as a stop does.
   */
  async #stop(id: string, method: StopMethod): Promise<void> {
    const hv = this.hypervisor;
    const { state } = await hv.domainInfo(id);
    if (state === 'absent') throw HypervisorError.NO_DOMAIN(id);
    if (state === 'shutoff') return;
    if (state === 'saved') await hv.resumeDomain(id);
    await hv.stopDomain(id, state === 'running' ? method : 'poweroff');
  }

  // ---- networks ----

  async #createNetwork(network: Entity): Promise<AttributePatch> {
    const hv = this.hypervisor;
    const spec = networkSpecOf(network);
    await hv.defineNetwork(spec);
    if (network.attributes['occi.network.state'] !== 'active') return {};
    try {
      await hv.networkUp(spec.name);
    } catch (err) {
      await hv.removeNetwork(spec.name).catch(() => undefined);
      throw err;
    }
    return {};
  }

  /**
   * A network that another node holds, linked from a compute here, is realised on this host too
   * (same name, active), so that the compute's interface has a network to join. It stays defined.
   */
  async #realise(networkId: string, ctx: BackendContext): Promise<void> {
    if (!ctx.foreign?.(networkId)) return; // held here: its state is the user's (a network gone from the host stays an error)
    const defined = await this.hypervisor.networkActive(networkName(networkId)).then(
      () => true,
      (err: unknown) => {
        if (isMissing(err)) return false;
        throw err;
      },
    );
    const network = defined ? undefined : ctx.entity(networkId);
    if (network) await this.#createNetwork({ ...network, attributes: { ...network.attributes, 'occi.network.state': 'active' } });
  }

  // ---- links ----

  /**
   * Attaches the link's device to the source compute's domain, unless the domain was defined
   * with it (links created inline with their compute). A storagelink learns its guest device.
   */
  async #attach(link: Entity, ctx: BackendContext): Promise<AttributePatch> {
    const ends = linkEnds(link);
    if (!ends) return {};
    const hv = this.hypervisor;
    const domainId = idOf(ends.source);
    const has = async () => {
      const { nics, disks } = await hv.domainDescription(domainId);
      return { nic: nics.some((n) => n.id === link.id), disk: disks.find((d) => d.id === link.id) };
    };
    const nic = nicOf(link, ctx);
    if (nic) {
      await this.#realise(idOf(ends.target), ctx);
      if (!(await has()).nic) await hv.attachInterface(domainId, nic);
      return {};
    }
    const disk = diskOf(link, ctx);
    if (!disk) return {};
    let attached = (await has()).disk;
    if (!attached) {
      await hv.attachDisk(domainId, disk);
      try {
        attached = (await has()).disk;
      } catch (err) {
        await hv.detachDisk(domainId, link.id).catch(() => undefined);
        throw err;
      }
    }
    return attached?.target === undefined ? {} : { 'occi.storagelink.deviceid': attached.target };
  }

  // ---- errors ----

  async #mapped<T>(entity: Entity, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw toOcciError(err, where(entity));
    }
  }
}

/** `/compute/<id>` for the messages (the standard kinds live at `/<term>/`). */
function where(e: Entity): string {
  return `/${e.kind.slice(e.kind.indexOf('#') + 1)}/${e.id}`;
}

function error(stateAttribute: string, message: string): AttributePatch {
  return { [stateAttribute]: 'error', [`${stateAttribute}.message`]: message };
}

function notImplemented(message: string): OcciError {
  return new OcciError('NOT_IMPLEMENTED', message);
}
