/** libvirt networks: defined, started, stopped and removed by name, each handle freed before the call returns. */
import { HypervisorError } from '../errors.js';
import type { NetworkSpec } from '../hypervisor.js';
import type { NetPtr } from './binding.js';
import type { LibvirtConnection } from './connection.js';
import { VIR_ERR } from './constants.js';
import { networkXml } from './resource-xml.js';

export class LibvirtNetworks {
  readonly #connection: LibvirtConnection;

  constructor(connection: LibvirtConnection) {
    this.#connection = connection;
  }

  async define(spec: NetworkSpec): Promise<void> {
    const xml = networkXml(spec);
    const conn = this.#connection;
    if (await conn.exists('virNetworkLookupByName', [conn.ptr, spec.name], VIR_ERR.NO_NETWORK, 'virNetworkFree', `lookup ${spec.name}`)) {
      throw HypervisorError.ALREADY_EXISTS(`network ${spec.name}`);
    }
    const net = await conn.handle<NetPtr>('virNetworkDefineXML', [conn.ptr, xml], `define network ${spec.name}`);
    conn.binding.fn.virNetworkFree(net);
  }

  async up(name: string): Promise<void> {
    await this.#transition(name, false, (net) => this.#connection.int('virNetworkCreate', [net], `start network ${name}`));
  }

  async down(name: string): Promise<void> {
    await this.#transition(name, true, (net) => this.#connection.int('virNetworkDestroy', [net], `stop network ${name}`));
  }

  remove(name: string): Promise<void> {
    return this.#use(name, async (net) => {
      if (await this.#isActive(net, name)) {
        await this.#connection.int('virNetworkDestroy', [net], `stop network ${name}`);
      }
      await this.#connection.int('virNetworkUndefine', [net], `remove network ${name}`);
    });
  }

  active(name: string): Promise<boolean> {
    return this.#use(name, (net) => this.#isActive(net, name));
  }

  /** The network XML as libvirt reports it. */
  xml(name: string): Promise<string> {
    return this.#use(name, (net) => this.#connection.string('virNetworkGetXMLDesc', [net, 0], `describe network ${name}`));
  }

  /** Fails with NO_NETWORK unless the network is defined. */
  async require(name: string): Promise<void> {
    await this.#use(name, async () => undefined);
  }

  async #use<T>(name: string, op: (net: NetPtr) => Promise<T>): Promise<T> {
    const net = await this.#connection.handle<NetPtr>('virNetworkLookupByName', [this.#connection.ptr, name], `network ${name}`);
    try {
      return await op(net);
    } finally {
      this.#connection.binding.fn.virNetworkFree(net);
    }
  }

  async #isActive(net: NetPtr, name: string): Promise<boolean> {
    return (await this.#connection.int('virNetworkIsActive', [net], `state of network ${name}`)) === 1;
  }

  /** Checked here: the test driver accepts stopping a stopped network. */
  #transition(name: string, active: boolean, op: (net: NetPtr) => Promise<unknown>): Promise<unknown> {
    return this.#use(name, async (net) => {
      const now = await this.#isActive(net, name);
      if (now !== active) throw HypervisorError.INVALID_STATE(`network ${name} is ${now ? 'already active' : 'not active'}`);
      return op(net);
    });
  }
}
