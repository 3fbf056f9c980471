import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { type Backend, StateOnlyBackend } from '../../src/occi/backend.js';
import { startNode, type RunningNode } from '../../src/node.js';
// Every answer the suites receive is checked against openapi/occi.yaml.
import './openapi-conformance.js';

export interface TestNode extends RunningNode {
  dataDir: string;
  /** Stops the node and removes its data directory. */
  dispose(): Promise<void>;
}

/**
 * A node on an ephemeral port with a fresh data directory, silent logs. It drives `hypervisor`
 * (a libvirt URI or `sim`) when one is given; otherwise `backend`, by default the state-only one,
 * so that the suites of the OCCI surface do not depend on a hypervisor's state. Authentication is
 * off (`auth: 'none'`): the suites of test/security/ start their nodes with tokens.
 */
export async function startTestNode(opts: { dataDir?: string; backend?: Backend; hypervisor?: string } = {}): Promise<TestNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'occi-node-'));
  const backend = opts.hypervisor === undefined ? (opts.backend ?? new StateOnlyBackend()) : undefined;
  const node = await startNode({ port: 0, dataDir, backend, hypervisor: opts.hypervisor, logger: pino({ level: process.env['TEST_LOG'] ?? 'silent' }), auth: 'none' }).catch((err: unknown) => {
    if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
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
export const PLACEMENT = 'http://schemas.discovery-cloud.org/occi/placement#placement';
