/**
 * A mesh-only node process, started by the local cluster (cluster-cli.ts)
 * until the full node (HTTP + OCCI) takes its place. Configuration comes in
 * the MESH_NODE environment variable (JSON, see MeshNodeConfig). Reports on
 * stdout, one JSON object a line: {event:'ready',…} then {event:'status',…}
 * every `statusMs`. SIGTERM / SIGINT close the mesh and exit.
 */
import { destination, pino } from 'pino';
import { Mesh, type JsonValue } from './mesh.js';
import { loadRttMatrix, siteDelay } from './rtt-matrix.js';

export interface MeshNodeConfig {
  bootstrap: Array<{ host: string; port: number }>;
  secret: string;
  name: string;
  dataDir: string;
  httpAddress?: string;
  site?: string;
  /** RTT matrix for delay injection (half the RTT between the two sites per message). */
  rttMatrix?: string;
  statusMs?: number;
}

const DEFAULT_STATUS_MS = 2000;

const cfg = JSON.parse(process.env.MESH_NODE ?? 'null') as MeshNodeConfig | null;
if (!cfg) {
  process.stderr.write('mesh-node: MESH_NODE is not set\n');
  process.exit(2);
}
const say = (o: Record<string, JsonValue>): void => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
};
let mesh: Mesh | null = null;
const matrix = cfg.rttMatrix ? loadRttMatrix(cfg.rttMatrix) : null;
mesh = new Mesh({
  bootstrap: cfg.bootstrap,
  secret: cfg.secret,
  name: cfg.name,
  dataDir: cfg.dataDir,
  httpAddress: cfg.httpAddress ?? null,
  site: cfg.site ?? null,
  logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }, destination(2)),
  ...(matrix && cfg.site ? { delayMs: siteDelay(matrix, cfg.site, (key) => mesh?.member(key)?.site ?? undefined) } : {}),
});
const stop = (): void => {
  void mesh!.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
await mesh.start();
say({ event: 'ready', key: mesh.key, name: cfg.name, site: cfg.site ?? null, http: cfg.httpAddress ?? null });
const status = setInterval(() => {
  const self = mesh!.self();
  say({
    event: 'status',
    key: mesh!.key,
    members: mesh!.members().length,
    coordinate: self.coordinate ? [...self.coordinate.vec.slice(0, 2), self.coordinate.height] : null,
  });
}, cfg.statusMs ?? DEFAULT_STATUS_MS);
status.unref();
