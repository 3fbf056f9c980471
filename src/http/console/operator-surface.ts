/**
 * What operators and the console look at, composed for one node (src/node.ts): the event feed and
 * its mesh relay, the metrics (with the timing proxies of the hypervisor and the mesh), the mesh
 * view. Created first (the proxies wrap the parts as they are made), fed once the node's parts
 * exist (`follow`), closed before them.
 *
 * @example
 *   const surface = new OperatorSurface({ name });
 *   const hypervisor = surface.timedHypervisor(opened.hypervisor);
 *   const mesh = surface.timedMesh(new Mesh({ … }));
 *   const cloud = new Cloud({ …, observers: surface.agentObservers(store, mesh) });
 *   surface.follow({ store, mesh, cloud, resilience, hypervisor });
 *   createApp({ …, operator: surface.forApp() });
 */
import type { Cloud } from '../../cloud/lrt.js';
import type { Resilience } from '../../cloud/resilience.js';
import type { Hypervisor } from '../../hypervisor/hypervisor.js';
import type { Mesh } from '../../mesh/mesh.js';
import type { EntityStore } from '../../occi/store.js';
import type { AgentObserver } from '../../scheduler/protocol/node-agent.js';
import { EventFeed } from '../events-feed.js';
import { EventRelay } from '../events-relay.js';
import { agentEvents, domainEvents, type EventSourcesContext, followComputes, followMembers, MigratingComputes } from '../events-sources.js';
import type { EventStreams } from '../events.js';
import { NodeMetrics } from '../metrics.js';
import { MeshView } from './mesh-view.js';

export interface OperatorParts {
  store: EntityStore;
  mesh?: Mesh;
  cloud?: Cloud;
  resilience?: Resilience;
  hypervisor?: Hypervisor;
  /** The node's URL, for the mesh view of a node outside any mesh. */
  url?: () => string | null;
}

/** What createApp serves of it (src/http/app.ts). */
export interface OperatorRoutes {
  events: EventStreams;
  meshView: MeshView;
  metrics: NodeMetrics;
}

export class OperatorSurface {
  readonly feed: EventFeed;
  readonly metrics: NodeMetrics;
  private readonly migrating = new MigratingComputes();
  private relay: EventRelay | undefined;
  private meshView: MeshView | undefined;
  private readonly stops: Array<() => void> = [];

  constructor(opts: { name: string; ringSize?: number }) {
    this.feed = new EventFeed({ node: opts.name, ringSize: opts.ringSize });
    this.metrics = new NodeMetrics();
  }

  timedHypervisor<H extends Hypervisor>(hypervisor: H): H {
    return this.metrics.timedHypervisor(hypervisor);
  }

  timedMesh(mesh: Mesh): Mesh {
    return this.metrics.timedMesh(mesh);
  }

  /** The DVMS agent's observers: the event stream's and the metrics'. */
  agentObservers(store: EntityStore, mesh: Mesh): AgentObserver[] {
    return [agentEvents(this.context(store, mesh)), this.metrics.agentObserver()];
  }

  /** Starts following the node's parts: membership, the store, the hypervisor's watch, the gauges. */
  follow(parts: OperatorParts): void {
    const { store, mesh, cloud, resilience, hypervisor } = parts;
    const ctx = this.context(store, mesh);
    this.stops.push(followMembers(ctx), followComputes(ctx), this.metrics.follow({ mesh, cloud, store, replicated: resilience !== undefined }));
    if (hypervisor) this.stops.push(hypervisor.watch(domainEvents(ctx)));
    if (mesh) this.relay = new EventRelay({ mesh, feed: this.feed });
    this.meshView = new MeshView({ name: this.feed.node, store, mesh, cloud, resilience, url: parts.url });
  }

  forApp(): OperatorRoutes {
    if (!this.meshView) throw new Error('OperatorSurface.follow() first');
    return { events: { feed: this.feed, relay: this.relay }, meshView: this.meshView, metrics: this.metrics };
  }

  close(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.relay?.close();
    this.meshView?.close();
  }

  private context(store: EntityStore, mesh: Mesh | undefined): EventSourcesContext {
    return { feed: this.feed, store, mesh, migrating: this.migrating };
  }
}
