/**
 * A fault-injection run on a process cluster: clients that create, update, act on and delete
 * computes through random nodes, and a nemesis that kills, freezes, splits and skews nodes and
 * drains one (its computes moved away while the clients go on), on its own seeded schedule, both
 * bounded in time. Everything lands in the history the checker judges.
 */
import supertest from 'supertest';
import type { ClusterNode } from '../../../src/cli/cluster-node.js';
import { monotonicMs } from '../../../src/lib/monotonic.js';
import { COMPUTE, OCCI_JSON, SMALL } from '../node.js';
import type { ProcessCluster } from '../process-cluster.js';
import { pick, seededRandom } from '../random.js';
import { type FaultKind, History, type OpKind, type Outcome } from './history.js';

const ACTION = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
const REQUEST_TIMEOUT_MS = 10_000;
/** Clients create computes up to this many (a full cloud leaves a drain no room to move them to). */
const MAX_COMPUTES = 30;
/** A drain that has not ended by then is given up (the node is stopped all the same). */
const DRAIN_DEADLINE_MS = 90_000;

export interface RunOptions {
  seed: number;
  clients: number;
  durationMs: number;
  /** Calm between two faults (ms). */
  calmMs: number;
  /** The fault kinds, injected in turn. */
  kinds: readonly FaultKind[];
  /** How long after a heal every compute must run again (ms). */
  recoveryBoundMs: number;
}

export interface Recovery {
  kind: FaultKind;
  ms: number;
  /** Why it was not recovered at the last look before it was (or at the last look, when it never was). */
  why?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function outcomeOf(status: number): Outcome {
  if (status >= 200 && status < 300) return 'ok';
  return status >= 400 && status < 500 ? 'fail' : 'info';
}

export class FaultRun {
  readonly history = new History();
  readonly recoveries: Recovery[] = [];
  private readonly rnd: () => number;
  private stopped = false;
  /** Nodes a client must not use right now (frozen: a request would hang until its timeout). */
  private readonly frozen = new Set<string>();

  constructor(
    private readonly pc: ProcessCluster,
    private readonly opts: RunOptions,
  ) {
    this.rnd = seededRandom(opts.seed);
  }

  /** Clients and nemesis together for the run's duration, then every fault healed. */
  async run(): Promise<void> {
    const clients = Array.from({ length: this.opts.clients }, (_, i) => this.client(seededRandom(this.opts.seed + 1 + i)));
    const nemesis = this.nemesis();
    await sleep(this.opts.durationMs);
    this.stopped = true;
    await Promise.all([nemesis, ...clients]);
  }

  /** The computes a client may act on: those whose creation was not surely refused and that were not surely deleted. */
  private known(): string[] {
    const ids = new Set<string>();
    for (const op of this.history.ops) {
      if (!op.id) continue;
      if (op.kind === 'create' && op.outcome !== 'fail') ids.add(op.id);
      if (op.kind === 'delete' && op.outcome === 'ok') ids.delete(op.id);
    }
    return [...ids];
  }

  private async client(rnd: () => number): Promise<void> {
    let n = 0;
    while (!this.stopped) {
      const usable = this.pc.live().filter((x) => !this.frozen.has(x.name));
      if (usable.length === 0) {
        await sleep(200);
        continue;
      }
      const through = pick(rnd, usable);
      const ids = this.known();
      const r = rnd();
      const kind: OpKind = ids.length < 3 || (r < 0.35 && ids.length < MAX_COMPUTES) ? 'create' : r < 0.6 ? 'update' : r < 0.72 ? 'stop' : r < 0.84 ? 'start' : 'delete';
      await this.invoke(kind, through, kind === 'create' ? undefined : pick(rnd, ids), `t${n++}-${Math.floor(rnd() * 1e6)}`);
      await sleep(50 + rnd() * 150);
    }
  }

  private async invoke(kind: OpKind, through: ClusterNode, id: string | undefined, value: string): Promise<void> {
    const agent = supertest(through.url);
    const invokedAt = monotonicMs();
    let status = 0;
    let created: string | undefined;
    // A creation names its id, so that even an unknown outcome is known by its id.
    const newId = kind === 'create' ? crypto.randomUUID() : undefined;
    try {
      const json = (req: supertest.Test, body: unknown) => req.set('Content-Type', OCCI_JSON).set('Accept', OCCI_JSON).timeout(REQUEST_TIMEOUT_MS).send(JSON.stringify(body));
      const res =
        kind === 'create'
          ? await json(agent.post('/compute/'), { kind: COMPUTE, id: newId, mixins: [SMALL], attributes: { 'occi.core.title': value } })
          : kind === 'update'
            ? await json(agent.post(`/compute/${id}`), { attributes: { 'occi.core.title': value } })
            : kind === 'delete'
              ? await agent.delete(`/compute/${id}`).timeout(REQUEST_TIMEOUT_MS)
              : await json(agent.post(`/compute/${id}?action=${kind}`), { action: `${ACTION}${kind}` });
      status = res.status;
      if (kind === 'create' && res.status === 201) created = res.body.id as string;
    } catch {
      status = 0; // a timeout or a lost connection: unknown
    }
    this.history.record({ kind, id: created ?? newId ?? id, value: kind === 'create' || kind === 'update' ? value : undefined, through: through.name, invokedAt, outcome: status === 0 ? 'info' : outcomeOf(status), status });
  }

  private async nemesis(): Promise<void> {
    let turn = 0;
    while (!this.stopped) {
      await sleep(this.opts.calmMs);
      if (this.stopped) break;
      const kind = this.opts.kinds[turn++ % this.opts.kinds.length]!;
      await this.inject(kind);
      const healedAt = monotonicMs();
      this.recoveries.push({ kind, ...(await this.recovered(healedAt)) });
    }
  }

  private async inject(kind: FaultKind): Promise<void> {
    const { pc, rnd } = this;
    const nodes = pc.live();
    const victim = pick(rnd, nodes);
    if (kind === 'kill') {
      const f = this.history.fault('kill', [victim.name]);
      await pc.cluster.kill(victim.index, 'SIGKILL');
      await sleep(4_000 + rnd() * 4_000);
      await pc.cluster.restart(victim.index);
      f.healedAt = monotonicMs();
    } else if (kind === 'pause') {
      const f = this.history.fault('pause', [victim.name]);
      this.frozen.add(victim.name);
      pc.cluster.freeze(victim.index, true);
      await sleep(5_000 + rnd() * 15_000);
      pc.cluster.freeze(victim.index, false);
      f.healedAt = monotonicMs();
      this.frozen.delete(victim.name);
    } else if (kind === 'split') {
      // A minority of one or two nodes cut from the others, both ways.
      const minority = nodes.filter(() => rnd() < 0.3).slice(0, 2);
      if (minority.length === 0) minority.push(victim);
      const majority = nodes.filter((n) => !minority.includes(n));
      const f = this.history.fault('split', minority.map((n) => n.name));
      for (const n of minority) pc.cluster.setFaults(n.index, { unreachable: majority.map((m) => m.key) });
      for (const n of majority) pc.cluster.setFaults(n.index, { unreachable: minority.map((m) => m.key) });
      await sleep(10_000);
      for (const n of nodes) pc.cluster.setFaults(n.index, {});
      f.healedAt = monotonicMs();
    } else if (kind === 'drain') {
      await this.drain(victim);
    } else {
      const f = this.history.fault('skew', [victim.name]);
      pc.cluster.setFaults(victim.index, { clockSkewMs: rnd() < 0.5 ? -30_000 : 30_000 });
      await sleep(15_000);
      pc.cluster.setFaults(victim.index, {});
      f.healedAt = monotonicMs();
    }
  }

  /** Drains a node (its computes move away through the scheduler), then stops and restarts it: it left the mesh. */
  private async drain(victim: ClusterNode): Promise<void> {
    const f = this.history.fault('drain', [victim.name]);
    const admin = (req: supertest.Test) => req.set('Accept', 'application/json').timeout(REQUEST_TIMEOUT_MS);
    await admin(supertest(victim.url).post('/.well-known/discovery/node?action=drain')).catch(() => undefined);
    const deadline = monotonicMs() + DRAIN_DEADLINE_MS;
    while (monotonicMs() < deadline) {
      const status = await admin(supertest(victim.url).get('/.well-known/discovery/node')).then((r) => r.body?.drain, () => undefined);
      if (typeof status?.moved === 'number') f.moved = status.moved;
      if (status?.state === 'left' || status?.state === 'failed') break;
      await sleep(500);
    }
    f.stoppedAt = monotonicMs();
    await this.pc.cluster.kill(victim.index, 'SIGTERM');
    await this.pc.cluster.restart(victim.index);
    f.healedAt = monotonicMs();
  }

  /** Ms from the heal until every compute is held once, active or inactive as asked, none fenced. */
  private async recovered(healedAt: number): Promise<{ ms: number; why?: string }> {
    const deadline = healedAt + this.opts.recoveryBoundMs;
    let why = '';
    while (monotonicMs() < deadline) {
      try {
        const live = this.pc.live().filter((n) => !this.frozen.has(n.name));
        const held = await this.pc.holdings(live[0]!.name);
        const seen = new Set<string>();
        const twice = held.filter((c) => seen.size === seen.add(c.id).size);
        const off = held.filter((c) => c.state !== 'active' && c.state !== 'inactive');
        if (twice.length === 0 && off.length === 0) return { ms: monotonicMs() - healedAt, ...(why ? { why } : {}) };
        why = [...twice.map((c) => `${c.id} held twice (also on ${c.node})`), ...off.map((c) => `${c.id} ${c.state} on ${c.node}`)].join('; ');
      } catch (err) {
        // A member did not answer yet: not recovered.
        why = (err as Error).message;
      }
      if (process.env['TEST_LOG'] !== undefined) process.stderr.write(`recovery look at +${Math.round(monotonicMs() - healedAt)} ms: ${why}\n`);
      await sleep(500);
    }
    return { ms: Infinity, why };
  }
}
