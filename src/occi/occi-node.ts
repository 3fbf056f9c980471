import type { Backend } from './backend.js';
import type { Entity } from './entity.js';
import { coreKinds } from './core-model.js';
import { infrastructureActions, infrastructureKinds, infrastructureMixins } from './infrastructure-model.js';
import { checkPlacement, type NodeResolver } from './placement-constraints.js';
import { placementMixins, restartMixin } from './placement-model.js';
import { CategoryRegistry } from './registry.js';
import { OcciService } from './service.js';
import { EntityStore } from './store.js';
import { DEFAULT_IMAGE_CATALOGUE, type ImageEntry, osTemplates, resourceTemplates } from './templates.js';

export interface OcciNodeOptions {
  dataDir: string | ':memory:';
  backend: Backend;
  images?: ImageEntry[];
  /** Name of this node, shown in the placement attribute of the computes it holds. */
  nodeName?: string;
  /**
   * Node name → scheduler node id (mesh key), to check the node names of ban/fence constraints.
   * Default: only `nodeName` is known (it resolves to itself).
   */
  resolveNode?: NodeResolver;
  /** Resources other nodes hold that a request here links to (src/occi/service/core.ts `foreign`). */
  foreign?: (id: string) => Entity | undefined;
}

/** The standard categories plus this node's templates. */
export function standardRegistry(images: ImageEntry[] = DEFAULT_IMAGE_CATALOGUE): CategoryRegistry {
  return new CategoryRegistry([
    ...coreKinds,
    ...infrastructureKinds,
    ...infrastructureActions,
    ...infrastructureMixins,
    ...osTemplates(images),
    ...resourceTemplates(),
    ...placementMixins,
    restartMixin,
  ]);
}

/** Opens the store in the data directory and builds the OCCI service over it. */
export function openOcciService(opts: OcciNodeOptions): { service: OcciService; store: EntityStore } {
  const store = new EntityStore(opts.dataDir);
  const registry = standardRegistry(opts.images);
  const resolveNode = opts.resolveNode ?? ((name: string) => (name === opts.nodeName ? name : undefined));
  const service = new OcciService(registry, store, opts.backend, { nodeName: opts.nodeName, check: (e) => checkPlacement(e, registry, resolveNode), foreign: opts.foreign });
  return { service, store };
}
