/**
 * A cluster of node processes on a loopback testnet for end-to-end tests (src/cli/local-cluster.ts's
 * LocalCluster): five sites of countries.csv with their RTTs injected into the mesh transport,
 * simulated hosts whose domain loads the test writes to each node's load file, `--auth none`.
 *
 * @example
 *   const pc = await startProcessCluster();           // FR, DE, US, JP, BR; full membership
 *   const res = await pc.client('FR').post('/compute/', body);
 *   await pc.until('moved', async () => ((await pc.nodeOf(id)) !== 'node-1' ? true : undefined));
 *   await pc.close();                                  // in afterAll: always kills the processes
 */
import type { ClusterNode } from '../../src/cli/cluster-node.js';
import { LocalCluster, type LocalClusterOptions } from '../../src/cli/local-cluster.js';
import { COUNTRIES_RTT_MATRIX, loadRttMatrix, siteRtt, type RttMatrixData } from '../../src/mesh/rtt-matrix.js';
import { occiClient, type OcciClient } from './client.js';
import { COMPUTE } from './node.js';

export const RTT_MATRIX = COUNTRIES_RTT_MATRIX;
/** Spread-out sites: FR–DE 43 ms, FR–US 114, US–JP 130, JP–BR 249 (countries.csv means). */
export const SITES = ['FR', 'DE', 'US', 'JP', 'BR'] as const;
export const LOCALITY = 'http://schemas.discovery-cloud.org/occi/placement#locality';
export const PLACEMENT_SCHEME = 'http://schemas.discovery-cloud.org/occi/placement#';
export const PLACEMENT_NODE = 'discovery.placement.node';

export interface ComputeView {
  id: string;
  node: string;
  state: string;
  title?: string;
}

export class ProcessCluster {
  readonly matrix: RttMatrixData;
  private readonly clients = new Map<string, OcciClient>();

  constructor(readonly cluster: LocalCluster) {
    this.matrix = loadRttMatrix(RTT_MATRIX);
  }

  get nodes(): readonly ClusterNode[] {
    return this.cluster.nodes;
  }

  /** A node by index, name or site. */
  node(which: number | string): ClusterNode {
    return typeof which === 'number' ? this.cluster.nodes[which]! : this.cluster.node(which);
  }

  /** An OCCI JSON client of a node (by index, name or site); follows the node across restarts. */
  client(which: number | string): OcciClient {
    const node = this.node(which);
    const key = `${node.name}@${node.url}`;
    let c = this.clients.get(key);
    if (!c) this.clients.set(key, (c = occiClient(node.url)));
    return c;
  }

  /** Measured RTT (ms) between the sites of two nodes (0 for one node). */
  rtt(a: string, b: string): number {
    if (a === b) return 0;
    return siteRtt(this.matrix, this.node(a).site!, this.node(b).site!);
  }

  /** Other nodes, nearest to `from` first by the RTT matrix. */
  byRttFrom(from: string): ClusterNode[] {
    const origin = this.node(from);
    return this.nodes.filter((n) => n !== origin).sort((x, y) => this.rtt(origin.name, x.name) - this.rtt(origin.name, y.name));
  }

  /** Creates a compute through a node; returns the answer (201 expected by the caller). */
  create(through: number | string, attributes: Record<string, unknown>, mixins: string[] = []) {
    return this.client(through).post('/compute/', { kind: COMPUTE, mixins, attributes });
  }

  /** The node that holds a compute, read through `through` (default: the first live node). */
  async nodeOf(id: string, through?: number | string): Promise<string | undefined> {
    const res = await this.client(through ?? this.live()[0]!.name).get(`/compute/${id}`);
    return res.status === 200 ? (res.body.attributes?.[PLACEMENT_NODE] as string) : undefined;
  }

  /**
   * What each node holds, asked of every node through `through`: the mesh-wide collection filtered
   * by `discovery.placement.node` (each member answers for its own store, so a compute held by two
   * nodes would show twice). A live member missing from an answer makes it throw (the answer would
   * be partial), unless named in `outOfMesh` (a node that runs but left the mesh).
   */
  async holdings(through: number | string, outOfMesh: readonly string[] = []): Promise<ComputeView[]> {
    const out: ComputeView[] = [];
    for (const n of this.nodes) {
      const res = await this.client(through).get(`/compute/?attribute=${encodeURIComponent(`${PLACEMENT_NODE}=${n.name}`)}`);
      if (res.status !== 200) throw new Error(`collection through ${String(through)}: ${res.status}`);
      // A member that did not answer in time is named; a live one makes the answer unusable.
      const missing = String(res.headers['x-discovery-partial'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const liveMissing = missing.filter((name) => !outOfMesh.includes(name) && this.nodes.some((x) => x.name === name && x.alive));
      if (liveMissing.length > 0) throw new Error(`collection through ${String(through)} misses ${liveMissing.join(', ')}`);
      for (const e of (res.body.resources ?? []) as Array<{ id: string; attributes: Record<string, unknown> }>) {
        if (e.attributes[PLACEMENT_NODE] !== n.name) continue;
        out.push({ id: e.id, node: n.name, state: String(e.attributes['occi.compute.state']), title: e.attributes['occi.core.title'] as string | undefined });
      }
    }
    return out;
  }

  /** Deletes computes through a live node (404s are fine: already gone); throws after trying them all if one failed. */
  async remove(ids: Iterable<string>): Promise<void> {
    const c = this.client(this.live()[0]!.name);
    const failed: string[] = [];
    for (const id of ids) {
      const res = await c.delete(`/compute/${id}`);
      if (res.status >= 300 && res.status !== 404) failed.push(`DELETE /compute/${id}: ${res.status} ${res.text}`);
    }
    if (failed.length > 0) throw new Error(failed.join('\n'));
  }

  live(): ClusterNode[] {
    return this.nodes.filter((n) => n.alive);
  }

  /** Polls `probe` every `everyMs` until it returns a value (not undefined); bounded by timeoutMs. */
  async until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  /**
   * Waits until the Vivaldi coordinates the nodes log (every 5 s) rank every node's neighbours in
   * the RTT matrix's order as far as `gapMs` tells them apart: for each node, a neighbour nearer by
   * more than gapMs in the matrix is also nearer by the coordinates (vector distance plus heights).
   */
  async waitForCoordinates(gapMs = 30, timeoutMs = 90_000): Promise<void> {
    await this.until(
      'Vivaldi coordinates that rank neighbours as the RTT matrix does',
      async () => {
        const live = this.live();
        if (live.some((n) => !n.coordinate)) return undefined;
        const predicted = (a: ClusterNode, b: ClusterNode) => {
          const ca = a.coordinate!;
          const cb = b.coordinate!;
          const dims = ca.length - 1;
          let sq = 0;
          for (let i = 0; i < dims; i++) sq += (ca[i]! - cb[i]!) ** 2;
          return Math.sqrt(sq) + ca[dims]! + cb[dims]!;
        };
        for (const a of live)
          for (const b of live)
            for (const c of live) {
              if (a === b || a === c || b === c) continue;
              if (this.rtt(a.name, b.name) + gapMs < this.rtt(a.name, c.name) && predicted(a, b) >= predicted(a, c)) return undefined;
            }
        return true;
      },
      timeoutMs,
      1000,
    );
  }

  /** Recent warnings and errors of every node (for failure messages). */
  warnings(limit = 20): string {
    return this.nodes
      .flatMap((n) => n.lines.filter((l) => (l.level ?? 0) >= 40).slice(-limit).map((l) => `${n.name}: ${JSON.stringify(l)}`))
      .join('\n');
  }

  close(): Promise<void> {
    return this.cluster.close();
  }
}

export interface ProcessClusterOptions extends Partial<LocalClusterOptions> {
  /** Simulated host of every node (a load file per node is added). */
  host?: string;
}

/**
 * Starts the node processes (FR, DE, US, JP, BR by default) and waits for full membership.
 * With TEST_LOG set, the nodes' log lines go to stderr.
 */
export async function startProcessCluster(opts: ProcessClusterOptions = {}): Promise<ProcessCluster> {
  const sites = opts.sites ?? SITES;
  const echo = process.env['TEST_LOG'] !== undefined;
  const cluster = await LocalCluster.start({
    nodes: opts.nodes ?? sites.length,
    sites,
    rtt: RTT_MATRIX,
    hypervisor: opts.host ?? opts.hypervisor ?? 'sim:///?cores=4&memoryMiB=4096&cpuOvercommit=4',
    auth: 'none',
    ...(echo ? { onLine: (n, l) => process.stderr.write(`${n.name}: ${JSON.stringify(l)}\n`), onOutput: (n, t) => process.stderr.write(`${n.name}: ${t}`) } : {}),
    ...opts,
    nodeArgs: ['--rate-limit', '0', ...(opts.nodeArgs ?? [])],
  });
  try {
    await cluster.waitForMembership(90_000);
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return new ProcessCluster(cluster);
}
