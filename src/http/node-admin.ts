/**
 * The operator's view of one node (documented in openapi/occi.yaml), admin only:
 *   GET  /.well-known/discovery/node               name, key, the hypervisor (driver, KVM or TCG
 *                                                  and why), capacity, usage, held computes,
 *                                                  members, partition, replica holders, drain
 *   POST /.well-known/discovery/node?action=drain  202: the node moves its computes away, then
 *                                                  leaves the mesh (GET shows the progress)
 * While a node drains, clients that reach it directly get 503 "draining"; once it left, every
 * OCCI request does (`gate`).
 */
import type { NextFunction, Request, Response } from 'express';
import type { Context } from 'openapi-backend';
import type { Mesh } from '../mesh/mesh.js';
import type { Cloud } from '../cloud/lrt.js';
import type { Resilience } from '../cloud/resilience.js';
import { OcciError } from '../occi/errors.js';
import { COMPUTE } from '../occi/infrastructure-model.js';
import type { Principal } from '../occi/request.js';
import type { EntityStore } from '../occi/store.js';
import { forwardedMark } from './forwarded-request.js';

export const NODE_PATH = '/.well-known/discovery/node';

export interface NodeControlOptions {
  name: string;
  store: EntityStore;
  mesh?: Mesh;
  cloud?: Cloud;
  resilience?: Resilience;
  /** What the node drives, as it said at start (the driver, the accelerator chosen and why). */
  hypervisor?: string;
}

interface Exchange {
  req: Request;
  res: Response;
  principal: Principal;
}

export class NodeControl {
  constructor(private readonly opts: NodeControlOptions) {}

  info(): Record<string, unknown> {
    const { name, store, mesh, cloud, resilience } = this.opts;
    const computes = [...store.all()].filter((e) => e.kind === COMPUTE).map((e) => e.id);
    const snapshot = cloud?.monitor.snapshot();
    return {
      name,
      key: mesh?.key ?? null,
      hypervisor: this.opts.hypervisor ?? null,
      capacity: snapshot ? { cpu: snapshot.node.cpu, mem: snapshot.node.mem } : null,
      usage: cloud ? cloud.monitor.usage() : null,
      computes,
      members: mesh ? mesh.members().map((m) => ({ name: m.name, key: m.key, site: m.site, url: m.httpAddress })) : [],
      partition: cloud?.agent.partition ?? null,
      fenced: resilience?.failover.isFenced ?? null,
      replicaHolders: resilience ? resilience.replicator.holders().map((k) => mesh?.member(k)?.name ?? k) : [],
      drain: resilience?.drain.status() ?? null,
    };
  }

  drain(): Record<string, unknown> {
    const { resilience } = this.opts;
    if (!resilience) throw OcciError.conflict('this node is not part of a cloud: there is nothing to drain');
    return resilience.drain.start() as unknown as Record<string, unknown>;
  }

  /** 503 "draining" for clients while the node drains, and for everyone once it left. */
  gate() {
    return (req: Request, _res: Response, next: NextFunction) => {
      const drain = this.opts.resilience?.drain;
      if (!drain || req.path.startsWith(NODE_PATH) || !(drain.left || drain.draining)) return next();
      // Members' forwarded requests for computes still here are served until the node left.
      if (drain.draining && forwardedMark(req) !== undefined) return next();
      next(OcciError.unavailable(`draining: node ${this.opts.name} ${drain.left ? 'left the mesh' : 'is moving its computes away'}; use another node`));
    };
  }
}

export function nodeAdminHandlers(control: NodeControl | undefined) {
  const admin = (principal: Principal) => {
    if (!principal.admin) throw new OcciError('FORBIDDEN', 'only an admin token may see or drain the node');
  };
  const need = (): NodeControl => {
    if (!control) throw OcciError.notFound(NODE_PATH);
    return control;
  };
  return {
    getNode: (_c: Context, { res, principal }: Exchange) => {
      admin(principal);
      res.status(200).json(need().info());
    },
    postNode: (c: Context, { res, principal }: Exchange) => {
      admin(principal);
      const action = c.request.query['action'];
      if (action !== 'drain') throw OcciError.badRequest(`unknown node action ${JSON.stringify(action ?? null)}: the only one is drain`);
      res.status(202).json(need().drain());
    },
  };
}
