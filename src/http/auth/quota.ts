/**
 * Tenant quotas (instances, cores, memoryGiB, storageGiB), enforced at admission: a creation, a
 * replacement or update that grows cores or memory, a storage resize. Usage is the tenant's over
 * the whole mesh: this node's entities plus every member's answer to `auth/usage`. A member
 * that does not answer counts with the usage it reported last; when it never answered, the
 * admission is refused (the quota cannot be checked) and the message says which member is
 * missing. Checks of one tenant on this node are serialised, so concurrent requests here cannot
 * overshoot together; requests on two nodes at the same instant can (docs/security.md).
 * With the overlay (a node knows only some members), each node publishes its part of every
 * tenant's usage on the ring directory after each change, and a check reads the parts under the
 * tenant's one key (records/usage-records.ts); keepers that do not answer refuse the admission.
 *
 * @example
 *   const quotas = new QuotaGate({ store, service, mesh, logger });
 *   const entity = await quotas.admit(principal, { type: 'create', kind, input }, () => service.create(principal, kind, input));
 */
import type { Logger } from 'pino';
import type { Mesh } from '../../mesh/mesh.js';
import { gatherMeshWide, handleMeshWide } from '../edge/mesh-wide.js';
import { categoryId, type Kind } from '../../occi/category.js';
import type { AttributeValue } from '../../occi/attribute.js';
import type { Entity } from '../../occi/entity.js';
import { OcciError } from '../../occi/errors.js';
import { COMPUTE, STORAGE } from '../../occi/infrastructure-model.js';
import { KeyedMutex } from '../../occi/keyed-mutex.js';
import type { ActionInput, EntityInput, Principal } from '../../occi/request.js';
import type { OcciService } from '../../occi/service.js';
import type { UsageRecords } from '../../mesh/records/usage-records.js';
import { type Quota, QUOTA_NAMES, type QuotaName, type TokenStore } from './token-store.js';

export const USAGE_METHOD = 'auth/usage';
export const DEFAULT_USAGE_DEADLINE_MS = 2000;

export type Usage = Record<QuotaName, number>;

/** What a request would change, as the app sees it before calling the service. */
export type Admission =
  | { type: 'create'; kind: Kind; input: EntityInput }
  | { type: 'put'; kind: Kind; id: string; input: EntityInput }
  | { type: 'update'; kind: Kind; id: string; input: EntityInput }
  | { type: 'action'; kind: Kind; id: string; term: string; input: ActionInput };

export interface QuotaGateOptions {
  store: TokenStore;
  service: OcciService;
  mesh?: Mesh;
  logger: Logger;
  usageDeadlineMs?: number;
  /** The ring directory's usage records: parts read there instead of asking every member. */
  records?: UsageRecords;
}

const zero = (): Usage => ({ instances: 0, cores: 0, memoryGiB: 0, storageGiB: 0 });
const LABEL: Record<QuotaName, string> = { instances: 'instances', cores: 'cores', memoryGiB: 'memory (GiB)', storageGiB: 'storage (GiB)' };

export class QuotaGate {
  private readonly mutex = new KeyedMutex();
  /** Last usage each member reported, per tenant. */
  private readonly lastKnown = new Map<string, Map<string, Usage>>();

  constructor(private readonly opts: QuotaGateOptions) {
    if (opts.records) this.publishParts(opts.records);
    if (opts.mesh) {
      handleMeshWide(opts.mesh, USAGE_METHOD, (payload) => {
        const tenant = payload['tenant'];
        if (typeof tenant !== 'string') throw Object.assign(new Error('usage: tenant expected'), { code: 'BAD_MESSAGE' });
        return this.localUsage(tenant);
      });
    }
  }

  /** The tenant's usage on this node. */
  localUsage(tenant: string): Usage {
    const { service } = this.opts;
    const who: Principal = { tenant, admin: false };
    const usage = zero();
    const compute = service.registry.kind(COMPUTE);
    const storage = service.registry.kind(STORAGE);
    for (const e of compute ? service.list(who, compute) : []) {
      usage.instances += 1;
      usage.cores += num(e.attributes['occi.compute.cores']);
      usage.memoryGiB += num(e.attributes['occi.compute.memory']);
    }
    for (const e of storage ? service.list(who, storage) : []) usage.storageGiB += num(e.attributes['occi.storage.size']);
    return usage;
  }

  /** This node's part of each tenant's usage, published now and after every change of an entity the tenant owns. */
  private publishParts(records: UsageRecords): void {
    const store = this.opts.service.core.store;
    const publish = (tenants: Iterable<string>): void => {
      for (const tenant of new Set(tenants)) records.publish(tenant, this.localUsage(tenant));
    };
    publish([...store.all()].map((e) => e.owner));
    store.onChange((change, removed) => publish([...(change.put ?? []), ...removed].map((e) => e.owner)));
  }

  /** The tenant's usage over the mesh; `unknown` names members that never answered. */
  async usage(tenant: string): Promise<{ usage: Usage; estimated: string[]; unknown: string[] }> {
    const usage = this.localUsage(tenant);
    const estimated: string[] = [];
    const unknown: string[] = [];
    if (this.opts.records) {
      const others = await this.opts.records.others(tenant);
      add(usage, sane(others.total));
      if (!others.ok) unknown.push('the ring directory');
      return { usage, estimated, unknown };
    }
    const mesh = this.opts.mesh;
    if (!mesh || mesh.members().length === 0) return { usage, estimated, unknown };
    // A member this node has no connection to is missing too: never answered, so the admission is refused.
    const { replies, missing } = await gatherMeshWide<Usage>(mesh, USAGE_METHOD, { tenant }, this.opts.usageDeadlineMs ?? DEFAULT_USAGE_DEADLINE_MS);
    for (const r of replies) {
      const u = sane(r.value);
      this.remember(r.key, tenant, u);
      add(usage, u);
    }
    for (const m of missing) {
      const last = this.lastKnown.get(m.key)?.get(tenant);
      if (last) {
        add(usage, last);
        estimated.push(m.name);
      } else unknown.push(m.name);
    }
    return { usage, estimated, unknown };
  }

  /** Runs `run` if the change keeps the tenant within its quota; 403 QUOTA_EXCEEDED otherwise. */
  async admit<T>(principal: Principal, change: Admission, run: () => Promise<T>): Promise<T> {
    const record = this.opts.store.quota(principal.tenant);
    if (!record || !QUOTA_NAMES.some((n) => record.quota[n] !== undefined)) return run();
    return this.mutex.run([principal.tenant], async () => {
      const demand = this.demand(principal, change);
      const touched = QUOTA_NAMES.filter((n) => demand[n] > 0 && record.quota[n] !== undefined);
      if (touched.length > 0) await this.check(principal.tenant, record.quota, demand, touched);
      const result = await run();
      if (touched.length > 0 && this.opts.records && !(await this.opts.records.reached(principal.tenant))) {
        this.opts.logger.warn({ tenant: principal.tenant }, 'usage not yet on the ring directory: a check elsewhere may not count this admission');
      }
      return result;
    });
  }

  private async check(tenant: string, quota: Quota, demand: Usage, touched: QuotaName[]): Promise<void> {
    const { usage, estimated, unknown } = await this.usage(tenant);
    if (unknown.length > 0) {
      // Members by name, or the ring directory as a whole with the overlay.
      const who = this.opts.records ? unknown.join(', ') : `member${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`;
      throw quotaError(`quota ${touched.map((n) => LABEL[n]).join(', ')} of tenant ${tenant} cannot be checked: ${who} did not answer; refused to stay within the quota`);
    }
    for (const n of touched) {
      const limit = quota[n]!;
      if (usage[n] + demand[n] > limit) {
        const note = estimated.length ? ` (counting the last usage reported by ${estimated.join(', ')}, which did not answer)` : '';
        throw quotaError(`quota ${LABEL[n]} of tenant ${tenant} exceeded: ${round(usage[n])} used + ${round(demand[n])} requested > ${limit}${note}`);
      }
    }
  }

  /** How much the change adds (decreases count as zero). Invalid input adds nothing: the service refuses it. */
  private demand(principal: Principal, change: Admission): Usage {
    const { service } = this.opts;
    const kindId = categoryId(change.kind);
    const demand = zero();
    const grow = (before: Entity | undefined, after: Entity) => {
      if (after.kind === COMPUTE) {
        if (!before) demand.instances += 1;
        demand.cores += Math.max(0, num(after.attributes['occi.compute.cores']) - num(before?.attributes['occi.compute.cores']));
        demand.memoryGiB += Math.max(0, num(after.attributes['occi.compute.memory']) - num(before?.attributes['occi.compute.memory']));
      } else if (after.kind === STORAGE) {
        demand.storageGiB += Math.max(0, num(after.attributes['occi.storage.size']) - num(before?.attributes['occi.storage.size']));
      }
    };
    if (kindId !== COMPUTE && kindId !== STORAGE) return demand;
    const existing = change.type === 'create' ? undefined : existingOf(service, principal, change.kind, change.id);
    try {
      if (change.type === 'create' || (change.type === 'put' && !existing)) {
        grow(undefined, service.preview(principal, change.kind, change.input, change.type === 'put' ? change.id : undefined));
      } else if (existing && change.type === 'put') {
        grow(existing, { ...existing, attributes: replaced(service, existing, change.input) });
      } else if (existing && change.type === 'update') {
        grow(existing, { ...existing, attributes: updated(service, existing, change.input) });
      } else if (existing && change.type === 'action' && kindId === STORAGE && change.term === 'resize') {
        grow(existing, { ...existing, attributes: { ...existing.attributes, 'occi.storage.size': change.input.attributes['size'] as number } });
      }
    } catch {
      return zero();
    }
    return demand;
  }

  private remember(key: string, tenant: string, u: Usage): void {
    let byTenant = this.lastKnown.get(key);
    if (!byTenant) this.lastKnown.set(key, (byTenant = new Map()));
    if (byTenant.size > 10_000) byTenant.clear();
    byTenant.set(tenant, u);
  }
}

function existingOf(service: OcciService, principal: Principal, kind: Kind, id: string): Entity | undefined {
  try {
    return service.get(principal, kind, id.toLowerCase());
  } catch {
    return undefined;
  }
}

/** Sizing attributes after a partial update (POST): added templates' defaults, then the given values. */
function updated(service: OcciService, before: Entity, input: EntityInput): Record<string, AttributeValue> {
  const attributes = { ...before.attributes };
  for (const m of service.registry.mixinClosure(input.mixins)) if (!before.mixins.includes(categoryId(m))) Object.assign(attributes, m.defaults ?? {});
  return { ...attributes, ...sizing(input) };
}

/** Sizing attributes after a replacement (PUT): attribute defaults, the templates' defaults, then the given values. */
function replaced(service: OcciService, before: Entity, input: EntityInput): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {};
  for (const d of service.registry.attributesOf(before.kind, input.mixins).values()) if (d.default !== undefined) attributes[d.name] = d.default;
  const size = before.attributes['occi.storage.size'];
  if (size !== undefined) attributes['occi.storage.size'] = size;
  for (const m of service.registry.mixinClosure(input.mixins)) Object.assign(attributes, m.defaults ?? {});
  return { ...attributes, ...sizing(input) };
}

function sizing(input: EntityInput): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const name of ['occi.compute.cores', 'occi.compute.memory', 'occi.storage.size']) {
    const v = input.attributes[name];
    if (v !== undefined && Number.isFinite(Number(v))) out[name] = Number(v);
  }
  return out;
}

function num(v: unknown): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function sane(v: unknown): Usage {
  const o = (v ?? {}) as Partial<Usage>;
  const u = zero();
  for (const n of QUOTA_NAMES) u[n] = num(o[n]);
  return u;
}

function add(to: Usage, u: Usage): void {
  for (const n of QUOTA_NAMES) to[n] += u[n];
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function quotaError(message: string): OcciError {
  return new OcciError('QUOTA_EXCEEDED', message);
}
