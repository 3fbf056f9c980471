/**
 * One process of the overlay part of `npm run bench:mesh` (bench/overlay-mesh.ts): `count` meshes
 * in overlay mode on the parent's testnet, driven over IPC. Exits when the parent goes away.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { Mesh, type MeshOptions } from '../src/mesh/mesh.js';

/** A record put by `by` under `key`, to be found from every node. */
export interface Published {
  key: string;
  by: string;
}

export type Command =
  | { t: 'start'; staggerMs: number }
  | { t: 'status' }
  | { t: 'put'; node: number; key: string }
  | { t: 'lookup'; records: Published[]; attempts: number; spreadMs: number }
  | { t: 'kill'; node: number }
  | { t: 'exit' };

export interface Status {
  t: 'status';
  members: number[];
  /** The largest overlay link and Hyperswarm connection counts of any node of this process, sampled every 100 ms. */
  maxLinks: number;
  maxConnections: number;
  /** The overlay's messages sent and received, and bytes sent, by this process's live nodes. */
  sent: number;
  received: number;
  bytesSent: number;
  /** The event loop's delay in this process (ms): 99th percentile and maximum since the last status. */
  lagP99Ms: number;
  lagMaxMs: number;
  /** How many of this process's live nodes know each member (its key's first 8 characters). */
  known: Record<string, number>;
}

/** One node's lookup of one record: whether its first attempt found the publisher, its hops, and the attempt that did (0: none). */
export interface Lookup {
  firstOk: boolean;
  hops: number;
  foundAt: number;
  ms: number;
}

export interface Left {
  t: 'left';
  key: string;
  by: string;
  reason: string;
  at: number;
}

const config = JSON.parse(process.env.OVERLAY_BENCH ?? '{}') as { bootstrap: MeshOptions['bootstrap']; count: number; index: number; overlay: MeshOptions['overlay'] };
const meshes = Array.from({ length: config.count }, (_, i) =>
  new Mesh({ secret: 'overlay-bench', bootstrap: config.bootstrap, name: `w${config.index}-${i}`, membership: 'overlay', overlay: config.overlay, logger: pino({ level: 'silent' }) }),
);
const dead = new Set<Mesh>();
const lag = monitorEventLoopDelay({ resolution: 20 });
lag.enable();
const max = { links: 0, connections: 0 };
/** To the parent while it is there (events of nodes still closing can follow its exit). */
const send = (m: object): void => void (process.connected && process.send?.(m));

for (const mesh of meshes) mesh.on('member-left', (m, reason) => send({ t: 'left', key: m.key, by: mesh.key, reason, at: Date.now() } satisfies Left));
const sampler = setInterval(() => {
  for (const mesh of meshes) {
    if (dead.has(mesh)) continue;
    const s = mesh.stats();
    max.links = Math.max(max.links, s.overlay?.links ?? 0);
    max.connections = Math.max(max.connections, s.connections);
  }
}, 100);

function status(): Status {
  const live = meshes.filter((m) => !dead.has(m));
  const stats = live.map((m) => m.stats());
  const sum = (f: (s: NonNullable<(typeof stats)[number]['overlay']>) => number): number => stats.reduce((a, s) => a + (s.overlay ? f(s.overlay) : 0), 0);
  const lagged = { lagP99Ms: Math.round(lag.percentile(99) / 1e6), lagMaxMs: Math.round(lag.max / 1e6) };
  lag.reset();
  const known: Record<string, number> = {};
  for (const m of live) for (const k of m.members()) known[k.key.slice(0, 8)] = (known[k.key.slice(0, 8)] ?? 0) + 1;
  return { t: 'status', members: live.map((m) => m.members().length), maxLinks: max.links, maxConnections: max.connections, sent: sum((o) => o.sent), received: sum((o) => o.received), bytesSent: sum((o) => o.bytesSent), ...lagged, known };
}

/**
 * Every live node looks every record up, each lookup at a random moment within `spreadMs` (lookups
 * at a rate, as the simulator makes them, not all at once on the same keepers); one not found (or
 * not answered) is asked again, up to `attempts` times.
 */
async function lookup(records: Published[], attempts: number, spreadMs: number): Promise<object> {
  const live = meshes.filter((m) => !dead.has(m));
  const one = async (mesh: Mesh, { key, by }: Published): Promise<Lookup> => {
    await new Promise((r) => setTimeout(r, Math.random() * spreadMs));
    const t0 = Date.now();
    let first: { ok: boolean; hops: number } | null = null;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const found = await mesh.directory().find(key).catch(() => null);
      const ok = !!found?.ok && found.records.some((r) => r.by === by);
      first ??= { ok, hops: found?.hops ?? 0 };
      if (ok) return { firstOk: first.ok, hops: first.hops, foundAt: attempt, ms: Date.now() - t0 };
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
    return { firstOk: false, hops: first?.hops ?? 0, foundAt: 0, ms: Date.now() - t0 };
  };
  const results = await Promise.all(live.flatMap((mesh) => records.map((r) => one(mesh, r))));
  return { t: 'looked-up', results };
}

process.on('message', (cmd: Command) => {
  void (async () => {
    switch (cmd.t) {
      case 'start':
        // Started one after the other, `staggerMs` apart (each start runs on), as nodes of a cluster come up.
        await Promise.all(meshes.map((m, i) => new Promise((r) => setTimeout(r, i * cmd.staggerMs)).then(() => m.start())));
        return send({ t: 'started', keys: meshes.map((m) => m.key) });
      case 'status':
        return send(status());
      case 'put':
        meshes[cmd.node]!.directory().put(cmd.key, '{}');
        return send({ t: 'put', key: cmd.key, by: meshes[cmd.node]!.key });
      case 'lookup':
        return send(await lookup(cmd.records, cmd.attempts, cmd.spreadMs));
      case 'kill': {
        const victim = meshes[cmd.node]!;
        dead.add(victim);
        const at = Date.now();
        await victim.destroy();
        return send({ t: 'killed', key: victim.key, at });
      }
      case 'exit':
        clearInterval(sampler);
        await Promise.allSettled(meshes.map((m) => m.destroy()));
        process.exit(0);
    }
  })().catch((err: unknown) => send({ t: 'error', message: String(err) }));
});
process.on('disconnect', () => process.exit(1));
send({ t: 'ready' });
