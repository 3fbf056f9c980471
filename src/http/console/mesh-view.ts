/**
 * `GET /.well-known/discovery/mesh` (openapi/occi.yaml, docs/console.md): the mesh as one node
 * sees it, gathered from every member — each node's site, Vivaldi coordinate, capacity and load,
 * the RTTs it measured to the others, and the computes it holds with their state and owner. A
 * tenant's token sees its own computes only and no partitions; members that did not answer in
 * time are named in `partial` and in `X-Discovery-Partial`.
 */
import type { Request, Response } from 'express';
import type { Cloud } from '../../cloud/lrt.js';
import type { Resilience } from '../../cloud/resilience.js';
import { coordToJson, type JsonValue, type Mesh } from '../../mesh/mesh.js';
import { COMPUTE } from '../../occi/infrastructure-model.js';
import type { Principal } from '../../occi/request.js';
import type { EntityStore } from '../../occi/store.js';
import { PARTIAL_HEADER } from '../edge/headers.js';
import { gatherMeshWide, handleMeshWide } from '../edge/mesh-wide.js';

export const MESH_VIEW_METHOD = 'discovery/mesh-view';
/** How long the entry node waits for the members' views (ms). */
const GATHER_DEADLINE_MS = 2_000;

export interface HeldCompute {
  id: string;
  owner: string;
  state: string;
  title: string | null;
}

/** One node's own view of itself, as it answers MESH_VIEW_METHOD. */
export interface NodeView {
  name: string;
  key: string | null;
  site: string | null;
  url: string | null;
  coordinate: JsonValue;
  /** What the scheduler may fill: cpu in % of a core, mem in MiB; null without a cloud. */
  capacity: { cpu: number; mem: number } | null;
  /** Measured use of the host now (same units). */
  load: { cpu: number; mem: number } | null;
  partition: string | null;
  drain: string | null;
  /** Median RTT (ms) this node measured to each member, by member name. */
  rtts: Record<string, number>;
  computes: HeldCompute[];
}

export interface MeshViewOptions {
  name: string;
  store: EntityStore;
  mesh?: Mesh;
  cloud?: Cloud;
  resilience?: Resilience;
  /** The node's own URL, when it is not announced in a mesh. */
  url?: () => string | null;
}

export class MeshView {
  constructor(private readonly opts: MeshViewOptions) {
    if (opts.mesh) handleMeshWide(opts.mesh, MESH_VIEW_METHOD, () => this.own());
  }

  own(): NodeView {
    const { name, store, mesh, cloud, resilience } = this.opts;
    const self = mesh?.self();
    const rtts: Record<string, number> = {};
    for (const m of mesh?.members() ?? []) {
      const rtt = mesh!.measuredRtt(m.key);
      if (rtt !== undefined) rtts[m.name] = Math.round(rtt * 10) / 10;
    }
    const computes: HeldCompute[] = [];
    for (const e of store.all()) {
      if (e.kind !== COMPUTE) continue;
      const title = e.attributes['occi.core.title'];
      computes.push({ id: e.id, owner: e.owner, state: String(e.attributes['occi.compute.state'] ?? ''), title: typeof title === 'string' ? title : null });
    }
    const snapshot = cloud?.monitor.snapshot();
    return {
      name,
      key: mesh?.key ?? null,
      site: self?.site ?? null,
      url: self?.httpAddress ?? this.opts.url?.() ?? null,
      coordinate: self?.coordinate ? coordToJson(self.coordinate) : null,
      capacity: snapshot ? { cpu: snapshot.node.cpu, mem: snapshot.node.mem } : null,
      load: cloud ? cloud.monitor.load() : null,
      partition: cloud?.agent.partition ?? null,
      drain: resilience?.drain.status().state ?? null,
      rtts,
      computes,
    };
  }

  /** Every member's view (this node's first), and the members that did not answer or that this node has no connection to. */
  async gather(): Promise<{ nodes: NodeView[]; partial: string[] }> {
    const { mesh } = this.opts;
    if (!mesh) return { nodes: [this.own()], partial: [] };
    const { replies, missing } = await gatherMeshWide<NodeView>(mesh, MESH_VIEW_METHOD, {}, GATHER_DEADLINE_MS);
    return { nodes: [this.own(), ...replies.map((r) => r.value)], partial: missing.map((m) => m.name) };
  }

  close(): void {
    this.opts.mesh?.unhandle(MESH_VIEW_METHOD);
  }
}

/** What a principal may see of a node's view: a tenant sees its own computes, and no partitions. */
export function viewFor(principal: Principal, node: NodeView): NodeView {
  if (principal.admin) return node;
  return { ...node, partition: null, drain: null, computes: node.computes.filter((c) => c.owner === principal.tenant) };
}

export function meshViewHandlers(view: MeshView) {
  return {
    getMesh: async (_c: unknown, { res, principal }: { req: Request; res: Response; principal: Principal }) => {
      const { nodes, partial } = await view.gather();
      if (partial.length) res.setHeader(PARTIAL_HEADER, partial.join(', '));
      res.status(200).json({ node: nodes[0]!.name, admin: principal.admin, tenant: principal.tenant, nodes: nodes.map((n) => viewFor(principal, n)), partial });
    },
  };
}
