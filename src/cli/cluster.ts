/**
 * Local cluster on loopback:
 *   npm run cluster -- --nodes <n> [--base-port 8081] [--rtt <matrix.csv> --sites a,b,c] [--data <dir>]
 *                      [--hypervisor sim:///?cores=2&memoryMiB=4096 | qemu] [--capacity <cores,MiB>] [--auth none|token]
 * Starts the nodes of a `LocalCluster` (local-cluster.ts), with progress bars on a terminal until
 * the mesh is whole, then prints a table of the nodes (refreshed as coordinates settle) on stdout;
 * Ctrl-C or SIGTERM stops them all.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadRttMatrix, parseSites } from '../mesh/rtt-matrix.js';
import { DEFAULT_BASE_PORT, LocalCluster } from './local-cluster.js';
import { terminalProgress } from './progress.js';

/** How long the bars wait for every node to see every other before the table is printed anyway. */
const MEMBERSHIP_WAIT_MS = 60_000;

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function capacity(value: string): { cores: number; memoryMiB: number } {
  const [cores, memoryMiB] = value.split(',').map(Number);
  if (!Number.isFinite(cores) || !Number.isFinite(memoryMiB) || cores! <= 0 || memoryMiB! <= 0) throw new InvalidArgumentError('capacity is <cores>,<MiB>, e.g. 4,8192');
  return { cores: cores!, memoryMiB: memoryMiB! };
}

async function main(): Promise<void> {
  const opts = new Command()
    .name('cluster')
    .requiredOption('--nodes <n>', 'number of nodes', positiveInt)
    .option('--base-port <p>', 'HTTP port of the first node (then consecutive)', positiveInt, DEFAULT_BASE_PORT)
    .option('--rtt <csv>', 'RTT matrix for delay injection')
    .option('--sites <ids>', 'comma-separated site ids of the matrix, assigned to nodes in order')
    .option('--data <dir>', "root of the nodes' data directories (default: a new temporary directory)")
    .option('--secret-file <file>', 'a file holding the cluster secret (or env DISCOVERY_CLUSTER_SECRET; default: random, in <data>/cluster-secret)')
    .option(
      '--hypervisor <uri>',
      'hypervisor of every node: qemu (each node its own libvirt daemon, real guests), a libvirt URI, or sim / sim:///?cores=N&memoryMiB=M&cpuOvercommit=F (each node then reads its loads from <data>/<node>/loads.json); default: each node its own libvirt test:///default host',
    )
    .option('--capacity <cores,MiB>', 'host capacity the scheduler may fill on every node', capacity)
    .addOption(new Option('--auth <mode>', 'authentication of every node (token: the first node prints an admin token valid on all)').choices(['token', 'none']).default('token'))
    .option('--log-level <level>', "the nodes' log level (info or more verbose: the table follows the nodes' info lines)", 'info')
    .parse()
    .opts<{ nodes: number; basePort: number; rtt?: string; sites?: string; data?: string; secretFile?: string; hypervisor?: string; capacity?: { cores: number; memoryMiB: number }; auth: 'none' | 'token'; logLevel: string }>();

  if ((opts.rtt === undefined) !== (opts.sites === undefined)) {
    process.stderr.write('cluster: --rtt and --sites go together\n');
    process.exit(2);
  }
  const sites = opts.rtt && opts.sites ? parseSites(loadRttMatrix(opts.rtt), opts.sites) : [];

  let tableTimer: NodeJS.Timeout | null = null;
  let cluster: LocalCluster | undefined;
  const progress = terminalProgress('cluster');
  const listening = progress.bar('nodes listening', opts.nodes);
  const members = progress.bar('members seen   ', opts.nodes * (opts.nodes - 1));
  let starting = true;
  /** Members each node sees, from its log lines. */
  const seen = new Map<string, number>();
  const scheduleTable = (): void => {
    if (starting) return;
    tableTimer ??= setTimeout(() => {
      tableTimer = null;
      if (cluster) printTable(cluster);
    }, 500);
  };
  let stopping = false;
  let tokenShown = false;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stderr.write('cluster: stopping\n');
    if (tableTimer) clearTimeout(tableTimer);
    await cluster?.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stopAll());
  process.on('SIGTERM', () => void stopAll());

  cluster = await LocalCluster.start({
    nodes: opts.nodes,
    sites,
    rtt: opts.rtt,
    basePort: opts.basePort,
    dataRoot: opts.data ?? join(tmpdir(), `discovery-cluster-${process.pid}`),
    // Never on a command line (ps shows it): read here, handed to the nodes in a 0600 file.
    secret: opts.secretFile ? readFileSync(opts.secretFile, 'utf8').trim() : process.env['DISCOVERY_CLUSTER_SECRET'],
    hypervisor: opts.hypervisor,
    capacity: opts.capacity,
    auth: opts.auth,
    logLevel: opts.logLevel,
    onLine: (node, line) => {
      // The node's own JSON log lines: warnings and errors go to stderr; the table follows the rest.
      if ((line.level ?? 0) >= 50) progress.log(`${node.name}: ${JSON.stringify(line)}`);
      if (line.msg === 'OCCI node listening') listening.advance(node.name);
      if (line.msg === 'member joined' || line.msg === 'member left') {
        seen.set(node.name, node.members.size);
        members.set([...seen.values()].reduce((a, b) => a + b, 0), `${node.name} sees ${String(line['member'] ?? '')}`);
      }
      if (line.msg === 'member joined' || line.msg === 'member left' || line.msg === 'mesh status') scheduleTable();
    },
    onOutput: (node, text) => {
      // node-1 holds the cluster's issuer key and every node trusts it: its admin token is valid on all.
      if (!text.startsWith('Admin token')) progress.log(`${node.name}: ${text.trimEnd()}`);
      else if (!tokenShown && node.adminToken) {
        tokenShown = true;
        progress.log(`admin token (valid on every node; send it as X-Auth-Token): ${node.adminToken}`);
      }
    },
  }).catch((err: unknown) => {
    process.stderr.write(`cluster: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
  await cluster.waitForMembership(MEMBERSHIP_WAIT_MS).catch(() => progress.log(`not every node sees every other after ${MEMBERSHIP_WAIT_MS / 1000} s; the table shows who sees whom`));
  progress.stop();
  starting = false;
  process.stderr.write(`cluster: testnet on ${cluster.bootstrap}, data in ${cluster.dataRoot}\n`);
  for (const n of cluster.nodes) {
    n.proc!.on('exit', (code, signal) => {
      if (!stopping) process.stderr.write(`cluster: ${n.name} exited (${signal ?? code})\n`);
    });
    if (n.loadFile) process.stderr.write(`cluster: ${n.name} reads its domains' loads from ${n.loadFile}\n`);
    if (n.daemon) process.stderr.write(`cluster: ${n.name} runs its guests on ${n.daemon.uri} (consoles in ${n.daemon.hostDir}/console)\n`);
  }
  printTable(cluster);
}

function printTable(cluster: LocalCluster): void {
  const head = ['name', 'pid', 'site', 'url', 'key', 'members', 'coordinate (components…, height) ms'];
  const body = cluster.nodes.map((n) => [
    n.name,
    n.alive ? String(n.proc!.pid) : '-',
    n.site ?? '-',
    n.alive ? n.url : '(stopped)',
    n.key.slice(0, 16),
    String(n.members.size),
    n.coordinate ? n.coordinate.map((x) => x.toFixed(1)).join(', ') : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`\n${fmt(head)}\n${body.map(fmt).join('\n')}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
