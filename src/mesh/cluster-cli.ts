/**
 * Local cluster on loopback:
 *   npm run cluster -- --nodes <n> [--base-port 8081] [--rtt <matrix.csv> --sites a,b,c] [--data <dir>]
 * Starts a DHT testnet bound to 127.0.0.1 (nothing reaches public bootstrap
 * nodes) and n node processes, each with its own data directory and HTTP
 * port; with --rtt/--sites, node i sits at site i (round-robin) and every
 * mesh message is delayed by half the RTT between the two sites. Prints a
 * table of the nodes (refreshed as coordinates settle) on stdout; Ctrl-C or
 * SIGTERM stops them all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import createTestnet from 'hyperdht/testnet.js';
import type { MeshNodeConfig } from './mesh-node.js';
import { loadRttMatrix, parseSites } from './rtt-matrix.js';

const DEFAULT_BASE_PORT = 8081;
const STOP_GRACE_MS = 5000;
const NODE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'mesh-node.ts');

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const opts = new Command()
  .name('cluster')
  .requiredOption('--nodes <n>', 'number of nodes', positiveInt)
  .option('--base-port <p>', 'HTTP port of the first node (then consecutive)', positiveInt, DEFAULT_BASE_PORT)
  .option('--rtt <csv>', 'RTT matrix for delay injection')
  .option('--sites <ids>', 'comma-separated site ids of the matrix, assigned to nodes in order')
  .option('--data <dir>', 'root of the nodes\' data directories')
  .option('--secret <s>', 'cluster secret (default: random)')
  .parse()
  .opts<{ nodes: number; basePort: number; rtt?: string; sites?: string; data?: string; secret?: string }>();

if ((opts.rtt === undefined) !== (opts.sites === undefined)) {
  process.stderr.write('cluster: --rtt and --sites go together\n');
  process.exit(2);
}
const sites = opts.rtt && opts.sites ? parseSites(loadRttMatrix(opts.rtt), opts.sites) : [];
const dataRoot = resolve(opts.data ?? join(tmpdir(), `discovery-cluster-${process.pid}`));
const secret = opts.secret ?? randomBytes(16).toString('hex');

const testnet = await createTestnet(3, { host: '127.0.0.1' });
process.stderr.write(`cluster: testnet on 127.0.0.1:${testnet.bootstrap[0]!.port}, data in ${dataRoot}\n`);

interface Row {
  name: string;
  site: string;
  url: string;
  key: string;
  members: number;
  coordinate: string;
  proc: ChildProcess;
}
const rows: Row[] = [];
for (let i = 0; i < opts.nodes; i++) {
  const name = `node-${i + 1}`;
  const dataDir = join(dataRoot, name);
  mkdirSync(dataDir, { recursive: true });
  const site = sites.length > 0 ? sites[i % sites.length]! : '';
  const url = `http://127.0.0.1:${opts.basePort + i}`;
  const cfg: MeshNodeConfig = {
    bootstrap: testnet.bootstrap,
    secret,
    name,
    dataDir,
    httpAddress: url,
    ...(site ? { site } : {}),
    ...(opts.rtt && site ? { rttMatrix: resolve(opts.rtt) } : {}),
  };
  const proc = spawn(process.execPath, ['--import', 'tsx', NODE_SCRIPT], {
    env: { ...process.env, MESH_NODE: JSON.stringify(cfg) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const row: Row = { name, site: site || '-', url, key: '', members: 0, coordinate: '-', proc };
  rows.push(row);
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let msg: { event?: string; key?: string; members?: number; coordinate?: number[] | null };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    if (msg.key) row.key = msg.key;
    if (typeof msg.members === 'number') row.members = msg.members;
    if (msg.coordinate) row.coordinate = msg.coordinate.map((x) => x.toFixed(1)).join(', ');
    scheduleTable();
  });
  proc.on('exit', (code, signal) => {
    process.stderr.write(`cluster: ${name} exited (${signal ?? code})\n`);
  });
}

let tableTimer: NodeJS.Timeout | null = null;
function scheduleTable(): void {
  tableTimer ??= setTimeout(() => {
    tableTimer = null;
    printTable();
  }, 500);
}
function printTable(): void {
  const head = ['name', 'site', 'url', 'key', 'members', 'coordinate (x, y, height) ms'];
  const body = rows.map((r) => [r.name, r.site, r.url, r.key.slice(0, 16), String(r.members), r.coordinate]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`\n${fmt(head)}\n${body.map(fmt).join('\n')}\n`);
}

let stopping = false;
async function stopAll(): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write('cluster: stopping\n');
  await Promise.all(
    rows.map(
      (r) =>
        new Promise<void>((resolveStop) => {
          if (r.proc.exitCode !== null || r.proc.signalCode !== null) return resolveStop();
          const t = setTimeout(() => r.proc.kill('SIGKILL'), STOP_GRACE_MS);
          r.proc.once('exit', () => {
            clearTimeout(t);
            resolveStop();
          });
          r.proc.kill('SIGTERM');
        }),
    ),
  );
  if (tableTimer) clearTimeout(tableTimer);
  await testnet.destroy();
  process.exit(0);
}
process.on('SIGINT', () => void stopAll());
process.on('SIGTERM', () => void stopAll());
