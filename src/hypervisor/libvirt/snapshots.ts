/** Domain snapshots: taken now (hot) or when the domain next stops (deferred), and looked up by name. */
import { HypervisorError } from '../errors.js';
import type { SaveMethod } from '../hypervisor.js';
import { VIR_ERR } from './constants.js';
import type { DomainHandles } from './domain-handles.js';
import { domainInfo, isActive } from './domain-state.js';
import { el, textEl } from './xml.js';

const SHUTDOWN_POLL_MS = 200;

export class DomainSnapshots {
  readonly #handles: DomainHandles;
  readonly #shutdownTimeoutMs: number;
  /** Snapshots to take when the domain next stops, by domain id. */
  readonly #deferred = new Map<string, string[]>();

  constructor(handles: DomainHandles, shutdownTimeoutMs: number) {
    this.#handles = handles;
    this.#shutdownTimeoutMs = shutdownTimeoutMs;
  }

  async save(id: string, method: SaveMethod, name?: string): Promise<string> {
    const snapshot = name ?? `save-${Date.now().toString(36)}`;
    const { state } = await domainInfo(this.#handles, id);
    if (state === 'absent') throw HypervisorError.NO_DOMAIN(id);
    if (method === 'deferred' && isActive(state)) {
      const pending = this.#deferred.get(id) ?? [];
      if (pending.includes(snapshot)) throw HypervisorError.ALREADY_EXISTS(`snapshot ${snapshot}`);
      this.#deferred.set(id, [...pending, snapshot]);
    } else {
      await this.#take(id, snapshot);
    }
    return snapshot;
  }

  /** Whether the domain has a snapshot of that name. */
  has(id: string, name: string): Promise<boolean> {
    const { connection } = this.#handles;
    return this.#handles.use(id, async (dom) => {
      try {
        const snap = await connection.handle('virDomainSnapshotLookupByName', [dom, name, 0], `snapshot ${name}`);
        connection.binding.fn.virDomainSnapshotFree(snap);
        return true;
      } catch (err) {
        if (err instanceof HypervisorError && err.libvirtNumber === VIR_ERR.NO_DOMAIN_SNAPSHOT) return false;
        throw err;
      }
    });
  }

  /** After a stop was requested: waits for the guest to power off, then takes the deferred snapshots. */
  async takeDeferred(id: string): Promise<void> {
    const pending = this.#deferred.get(id);
    if (pending === undefined) return;
    await this.#waitInactive(id);
    this.#deferred.delete(id);
    for (const name of pending) await this.#take(id, name);
  }

  /** Forgets the deferred snapshots of a domain that is removed. */
  drop(id: string): void {
    this.#deferred.delete(id);
  }

  async #take(id: string, name: string): Promise<void> {
    const xml = el('domainsnapshot', {}, textEl('name', name));
    const { connection } = this.#handles;
    await this.#handles.use(id, async (dom) => {
      const snap = await connection.handle('virDomainSnapshotCreateXML', [dom, xml, 0], `snapshot ${id} as ${name}`);
      connection.binding.fn.virDomainSnapshotFree(snap);
    });
  }

  async #waitInactive(id: string): Promise<void> {
    const deadline = Date.now() + this.#shutdownTimeoutMs;
    for (;;) {
      const { state } = await domainInfo(this.#handles, id);
      if (!isActive(state)) return;
      if (Date.now() >= deadline) throw HypervisorError.INVALID_STATE(`domain ${id} did not stop in time`);
      await new Promise((resolve) => setTimeout(resolve, SHUTDOWN_POLL_MS));
    }
  }
}
