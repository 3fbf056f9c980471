/**
 * One process of the overlay benchmark (bench/overlay-mesh.ts): `count` meshes in overlay mode
 * on the parent's testnet, driven over IPC. Exits when the parent goes away.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { Mesh, type MeshOptions } from '../src/mesh/mesh.js';

export type Command =
  | { t: 'start'; staggerMs: number }
  | { t: 'status' }
  | { t: 'put'; node: number; key: string; value: string }
  | { t: 'reach'; key: string; timeoutMs: number }
  | { t: 'kill'; node: number }
  | { t: 'exit' };

export interface Status {
  t: 'status';
  members: number[];
  links: number[];
  maxLinks: number;
  maxConnections: number;
  sent: number;
  received: number;
  /** The event loop's delay in this process (ms): 99th percentile and maximum since the last status. */
  lagP99Ms: number;
  lagMaxMs: number;
  /** How many of this process's live nodes know each member. */
  known: Record<string, number>;
}

const config = JSON.parse(process.env.OVERLAY_BENCH ?? '{}') as { bootstrap: MeshOptions['bootstrap']; count: number; index: number; overlay: MeshOptions['overlay'] };
const meshes = Array.from({ length: config.count }, (_, i) =>
  new Mesh({ secret: 'overlay-bench', bootstrap: config.bootstrap, name: `w${config.index}-${i}`, membership: 'overlay', overlay: config.overlay, logger: pino({ level: 'silent' }) }),
);
const dead = new Set<Mesh>();
const lag = monitorEventLoopDelay({ resolution: 20 });
lag.enable();
const max = { links: 0, connections: 0 };
const send = (m: object): void => void process.send?.(m);

for (const mesh of meshes) {
  mesh.handle('bench/echo', (payload) => payload);
  mesh.on('member-left', (m, reason) => send({ t: 'left', key: m.key, by: mesh.key, reason, at: Date.now() }));
}
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
  const sum = (f: (s: (typeof stats)[number]) => number): number => stats.reduce((a, s) => a + f(s), 0);
  const lagged = { lagP99Ms: Math.round(lag.percentile(99) / 1e6), lagMaxMs: Math.round(lag.max / 1e6) };
  lag.reset();
  const known: Record<string, number> = {};
  for (const m of live) for (const k of m.members()) known[k.key.slice(0, 8)] = (known[k.key.slice(0, 8)] ?? 0) + 1;
  return { t: 'status', members: live.map((m) => m.members().length), links: stats.map((s) => s.overlay?.links ?? 0), maxLinks: max.links, maxConnections: max.connections, sent: sum((s) => s.overlay?.sent ?? 0), received: sum((s) => s.overlay?.received ?? 0), ...lagged, known };
}

/** Every live node finds the record under `key` and calls its publisher. */
async function reach(key: string, timeoutMs: number): Promise<object> {
  const live = meshes.filter((m) => !dead.has(m));
  const results = await Promise.all(
    live.map(async (mesh) => {
      const t0 = Date.now();
      for (let attempt = 1; Date.now() - t0 < timeoutMs; attempt++) {
        try {
          const found = await mesh.directory().find(key);
          const holder = found.records[0]?.by;
          if (holder) {
            if (holder !== mesh.key) await mesh.request(holder, 'bench/echo', { from: mesh.key }, { timeoutMs: 5000 });
            return { ok: true, ms: Date.now() - t0, attempts: attempt, hops: found.hops };
          }
        } catch {
          // Tried again below (a link on demand refused by a member at its bound, a call cut to make room).
        }
        await new Promise((r) => setTimeout(r, 250 * attempt));
      }
      return { ok: false, ms: Date.now() - t0, attempts: 0, hops: 0 };
    }),
  );
  return { t: 'reached', results };
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
        meshes[cmd.node]!.directory().put(cmd.key, cmd.value);
        return send({ t: 'put' });
      case 'reach':
        return send(await reach(cmd.key, cmd.timeoutMs));
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
