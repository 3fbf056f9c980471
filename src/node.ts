import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { createApp } from './http/app.js';
import { type Backend, StateOnlyBackend } from './occi/backend.js';
import { openOcciService } from './occi/occi-node.js';
import type { OcciService } from './occi/service.js';
import type { ImageEntry } from './occi/templates.js';

export interface NodeOptions {
  port: number;
  host?: string;
  dataDir: string;
  images?: ImageEntry[];
  backend?: Backend;
  logger?: Logger;
}

export interface RunningNode {
  url: string;
  port: number;
  service: OcciService;
  close(): Promise<void>;
}

/** Composition root: the store, the OCCI service, the HTTP surface, listening. */
export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const logger = opts.logger ?? pino({ level: 'info' });
  const backend = opts.backend ?? new StateOnlyBackend();
  const { service, store } = openOcciService({ dataDir: opts.dataDir, backend, images: opts.images });
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
    close: () =>
      (closing ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        store.close();
      })()),
  };
}
