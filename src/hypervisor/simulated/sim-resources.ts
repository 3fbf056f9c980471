/** The networks and volumes of a simulated host (SimHost delegates to it). */
import { HypervisorError } from '../errors.js';
import type { NetworkSpec, VolumeInfo, VolumeSpec } from '../hypervisor.js';

function checkSize(sizeGiB: number): void {
  if (!(Number.isFinite(sizeGiB) && sizeGiB > 0)) throw HypervisorError.INVALID_ARG(`size ${sizeGiB} GiB`);
}

export class SimResources {
  readonly #networks = new Map<string, { spec: NetworkSpec; active: boolean }>();
  readonly #volumes = new Map<string, VolumeInfo>();

  defineNetwork(spec: NetworkSpec): void {
    if (spec.name === '') throw HypervisorError.INVALID_ARG('network name is empty');
    if (this.#networks.has(spec.name)) throw HypervisorError.ALREADY_EXISTS(`network ${spec.name}`);
    this.#networks.set(spec.name, { spec: structuredClone(spec), active: false });
  }

  networkUp(name: string): void {
    const net = this.network(name);
    if (net.active) throw HypervisorError.INVALID_STATE(`network ${name} is already active`);
    net.active = true;
  }

  networkDown(name: string): void {
    const net = this.network(name);
    if (!net.active) throw HypervisorError.INVALID_STATE(`network ${name} is not active`);
    net.active = false;
  }

  removeNetwork(name: string): void {
    this.network(name);
    this.#networks.delete(name);
  }

  networkActive(name: string): boolean {
    return this.network(name).active;
  }

  createVolume(spec: VolumeSpec): VolumeInfo {
    checkSize(spec.sizeGiB);
    if (this.#volumes.has(spec.name)) throw HypervisorError.ALREADY_EXISTS(`volume ${spec.name}`);
    const info = { name: spec.name, path: `/sim/${spec.name}`, capacityGiB: spec.sizeGiB, allocationGiB: 0 };
    this.#volumes.set(spec.name, info);
    return { ...info };
  }

  resizeVolume(name: string, sizeGiB: number): VolumeInfo {
    checkSize(sizeGiB);
    const vol = this.volume(name);
    if (sizeGiB < vol.capacityGiB) throw HypervisorError.INVALID_ARG(`cannot shrink volume ${name}`);
    vol.capacityGiB = sizeGiB;
    return { ...vol };
  }

  snapshotVolume(name: string, snapshotName: string): VolumeInfo {
    const vol = this.volume(name);
    return { ...this.createVolume({ name: snapshotName, sizeGiB: vol.capacityGiB }), allocationGiB: vol.allocationGiB };
  }

  deleteVolume(name: string): void {
    this.volume(name);
    this.#volumes.delete(name);
  }

  volumeInfo(name: string): VolumeInfo {
    return { ...this.volume(name) };
  }

  network(name: string): { spec: NetworkSpec; active: boolean } {
    const net = this.#networks.get(name);
    if (net === undefined) throw HypervisorError.NO_NETWORK(name);
    return net;
  }

  volume(name: string): VolumeInfo {
    const vol = this.#volumes.get(name);
    if (vol === undefined) throw HypervisorError.NO_VOLUME(name);
    return vol;
  }
}
