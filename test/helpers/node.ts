import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Backend } from '../../src/occi/backend.js';
import { startNode, type RunningNode } from '../../src/node.js';

export interface TestNode extends RunningNode {
  dataDir: string;
  /** Stops the node and removes its data directory. */
  dispose(): Promise<void>;
}

/** A node on an ephemeral port with a fresh data directory, silent logs. */
export async function startTestNode(opts: { dataDir?: string; backend?: Backend } = {}): Promise<TestNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'occi-node-'));
  const node = await startNode({ port: 0, dataDir, backend: opts.backend, logger: pino({ level: 'silent' }) });
  return {
    ...node,
    dataDir,
    dispose: async () => {
      await node.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const INFRA = 'http://schemas.ogf.org/occi/infrastructure#';
export const COMPUTE = `${INFRA}compute`;
export const NETWORK = `${INFRA}network`;
export const STORAGE = `${INFRA}storage`;
export const NETWORKINTERFACE = `${INFRA}networkinterface`;
export const STORAGELINK = `${INFRA}storagelink`;
export const SMALL = 'http://schemas.discovery-cloud.org/occi/resource_tpl#small';
export const LARGE = 'http://schemas.discovery-cloud.org/occi/resource_tpl#large';
export const DEBIAN = 'http://schemas.discovery-cloud.org/occi/os_tpl#debian-12';
export const OCCI_JSON = 'application/occi+json';
