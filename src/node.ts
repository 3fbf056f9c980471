import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { createApp } from './http/app.js';
import { type Hypervisor, openHypervisor } from './hypervisor/index.js';
import type { Backend } from './occi/backend.js';
import { HypervisorBackend } from './occi/hypervisor-backend.js';
import { openOcciService } from './occi/occi-node.js';
import type { OcciService } from './occi/service.js';
import type { ImageEntry } from './occi/templates.js';

export interface NodeOptions {
  port: number;
  host?: string;
  dataDir: string;
  images?: ImageEntry[];
  /**
   * What the node drives: a libvirt URI (`test:///default`, `qemu:///system`…) or `sim` for the
   * simulated driver. Default: libvirt's test driver when libvirt0 loads, else the simulated one.
   */
  hypervisor?: string;
  /** Replaces the hypervisor (e.g. `StateOnlyBackend` for tests of the OCCI surface alone). */
  backend?: Backend;
  logger?: Logger;
}

export interface RunningNode {
  url: string;
  port: number;
  service: OcciService;
  /** The hypervisor behind the node, unless a `backend` was given. */
  hypervisor?: Hypervisor;
  /** Polls the hypervisor now and resolves once the entities reflect what it reported (a sync point). */
  reconcile(): Promise<void>;
  close(): Promise<void>;
}

/** Composition root: the hypervisor, the store, the OCCI service, the HTTP surface, listening. */
export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const logger = opts.logger ?? pino({ level: 'info' });
  let backend = opts.backend;
  let driven: HypervisorBackend | undefined;
  if (!backend) {
    const opened = await openHypervisor(opts.hypervisor);
    logger.info({ hypervisor: opened.description }, `hypervisor: ${opened.description}`);
    backend = driven = new HypervisorBackend(opened.hypervisor, { images: opts.images, description: opened.description });
  }
  const { service, store } = openOcciService({ dataDir: opts.dataDir, backend, images: opts.images });
  const unfollow = driven?.follow(
    (id) => service.reconcile(id),
    (err) => logger.warn({ err }, 'reconciliation with the hypervisor failed'),
  );
  const app = await createApp({ service, logger });
  const server: Server = app.listen(opts.port, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1'}:${port}`;
  logger.info({ url, dataDir: opts.dataDir, backend: backend.description }, 'OCCI node listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    service,
    hypervisor: driven?.hypervisor,
    reconcile: async () => driven?.sync(),
    close: () =>
      (closing ??= (async () => {
        unfollow?.();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await driven?.flushed();
        store.close();
        await driven?.hypervisor.close();
      })()),
  };
}
