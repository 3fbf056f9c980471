/** The domain handles of one libvirt connection, kept between calls in an LRU cache. */
import { LRUCache } from 'lru-cache';
import { HypervisorError } from '../errors.js';
import type { DomPtr } from './binding.js';
import type { LibvirtConnection } from './connection.js';
import { DOMAIN_ID } from './domain-xml.js';

/**
 * libvirt resolves a domain handle by UUID on every call, so a kept one never
 * goes stale. The cache holds one reference per handle and frees it when the
 * entry is evicted or deleted; a caller gets its own reference (virDomainRef)
 * and frees it, so an eviction never frees a handle in use.
 */
export class DomainHandles {
  readonly connection: LibvirtConnection;
  readonly #fn: LibvirtConnection['binding']['fn'];
  readonly #handles: LRUCache<string, DomPtr>;
  #closed = false;

  /** `size`: how many handles are kept (a positive integer). */
  constructor(connection: LibvirtConnection, size: number) {
    const { fn } = connection.binding;
    this.connection = connection;
    this.#fn = fn;
    this.#handles = new LRUCache<string, DomPtr>({ max: size, dispose: (dom) => fn.virDomainFree(dom) });
  }

  /** A handle the caller owns (and frees); served from the cache with an extra reference. */
  async acquire(id: string): Promise<DomPtr> {
    if (!DOMAIN_ID.test(id)) throw HypervisorError.NO_DOMAIN(id);
    const cached = this.#handles.get(id);
    if (cached !== undefined) {
      this.#fn.virDomainRef(cached);
      return cached;
    }
    const dom = await this.connection.handle<DomPtr>('virDomainLookupByUUIDString', [this.connection.ptr, id], `domain ${id}`);
    this.#fn.virDomainRef(dom);
    this.adopt(id, dom);
    return dom;
  }

  /** Keeps a reference the caller hands over, or frees it (already cached, or closed). */
  adopt(id: string, dom: DomPtr): void {
    if (this.#handles.has(id) || this.#closed) {
      this.#fn.virDomainFree(dom);
      return;
    }
    this.#handles.set(id, dom);
  }

  /** Drops (and frees) the kept handle of a domain that is gone. */
  forget(id: string): void {
    this.#handles.delete(id);
  }

  /** Runs `op` on the domain's handle; a domain found gone meanwhile is forgotten. */
  async use<T>(id: string, op: (dom: DomPtr) => Promise<T>): Promise<T> {
    const dom = await this.acquire(id);
    try {
      return await op(dom);
    } catch (err) {
      if (err instanceof HypervisorError && err.code === 'NO_DOMAIN') this.forget(id);
      throw err;
    } finally {
      this.#fn.virDomainFree(dom);
    }
  }

  /** Frees every kept handle; handles adopted afterwards are freed at once. */
  close(): void {
    this.#closed = true;
    this.#handles.clear();
  }
}
