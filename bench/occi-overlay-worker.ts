/**
 * One process of the OCCI overlay benchmark (bench/occi-overlay.ts): `count` whole nodes (HTTP,
 * OCCI service, store, mesh in overlay mode, no hypervisor: `StateOnlyBackend`) on the parent's
 * testnet, driven over IPC. Exits when the parent goes away.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { StateOnlyBackend } from '../src/occi/backend.js';
import { startNode, type RunningNode } from '../src/node.js';

export type WorkerCommand = { t: 'start'; staggerMs: number } | { t: 'status' } | { t: 'kill'; node: number } | { t: 'exit' };

export interface WorkerStatus {
  t: 'status';
  /** Members known by each live node. */
  members: number[];
  /** The most overlay links, and Hyperswarm connections, any node of this process had (sampled every 100 ms). */
  maxLinks: number;
  maxConnections: number;
}

export interface StartedNode {
  name: string;
  key: string;
  url: string;
}

const config = JSON.parse(process.env['OCCI_OVERLAY_BENCH'] ?? '{}') as { bootstrap: Array<{ host: string; port: number }>; count: number; index: number; secret: string };
const dirs: string[] = [];
const nodes: RunningNode[] = [];
const dead = new Set<RunningNode>();
const max = { links: 0, connections: 0 };
/** To the parent while it is there (events of nodes still closing can follow its exit). */
const send = (m: object): void => void (process.connected && process.send?.(m));

const sampler = setInterval(() => {
  for (const node of nodes) {
    if (dead.has(node) || !node.mesh) continue;
    const s = node.mesh.stats();
    max.links = Math.max(max.links, s.overlay?.links ?? 0);
    max.connections = Math.max(max.connections, s.connections);
  }
}, 100);

const nameOf = (i: number): string => `p${config.index}n${i}`;

async function startOne(i: number): Promise<RunningNode> {
  const dataDir = mkdtempSync(join(tmpdir(), `occi-overlay-${config.index}-${i}-`));
  dirs.push(dataDir);
  const name = nameOf(i);
  const node = await startNode({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    name,
    backend: new StateOnlyBackend(),
    auth: 'none',
    logger: pino({ level: 'silent' }),
    mesh: { secret: config.secret, bootstrap: config.bootstrap, site: name, membership: 'overlay' },
  });
  node.mesh!.on('member-left', (m, reason) => send({ t: 'left', key: m.key, by: node.mesh!.key, reason, at: Date.now() }));
  return node;
}

process.on('message', (cmd: WorkerCommand) => {
  void (async () => {
    switch (cmd.t) {
      case 'start': {
        // Started `staggerMs` apart, as the nodes of a site come up.
        const started = await Promise.all(Array.from({ length: config.count }, (_, i) => new Promise((r) => setTimeout(r, i * cmd.staggerMs)).then(() => startOne(i))));
        nodes.push(...started);
        return send({ t: 'started', nodes: started.map((n, i): StartedNode => ({ name: nameOf(i), key: n.mesh!.key, url: n.url })) });
      }
      case 'status': {
        const live = nodes.filter((n) => !dead.has(n));
        return send({ t: 'status', members: live.map((n) => n.mesh!.members().length), maxLinks: max.links, maxConnections: max.connections } satisfies WorkerStatus);
      }
      case 'kill': {
        // The mesh destroyed without a goodbye, as a crash; the HTTP listener closed with it.
        const victim = nodes[cmd.node]!;
        dead.add(victim);
        const at = Date.now();
        await victim.mesh!.destroy();
        await victim.close();
        return send({ t: 'killed', key: victim.mesh!.key, at });
      }
      case 'exit':
        clearInterval(sampler);
        await Promise.allSettled(nodes.filter((n) => !dead.has(n)).map((n) => n.close()));
        for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
        process.exit(0);
    }
  })().catch((err: unknown) => send({ t: 'error', message: String(err) }));
});
process.on('disconnect', () => process.exit(1));
send({ t: 'ready' });
