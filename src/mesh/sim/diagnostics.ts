/**
 * What the simulator records about its failures: why a lookup of a live holder's record came
 * back without it, and in what state a live member was when a node declared it dead. Counters
 * go in the JSON line (`diagnostics`); with `trace`, one line per case on stderr.
 */
import type { OverlayNode } from '../overlay/node.js';
import { keyPosition } from '../overlay/types.js';

/** What the diagnostics need of a simulated node. */
export interface DiagNode {
  key: string;
  pos: number;
  alive: boolean;
  bornAt: number;
  overlay: OverlayNode;
}

export interface SimDiagnosticsResult {
  /** Failed lookups of a live holder's record: no keeper answered in time / a keeper answered without it. */
  lookup_unanswered: number;
  lookup_empty: number;
  /** Of those: the record was not at any of the true keepers (the live successors of its key). */
  lookup_not_stored: number;
  /** Of those: the asking node's keepers of the key were not the true ones. */
  lookup_stale_keepers: number;
  /** Lookups whose holder died before the answer (not counted as lookups). */
  lookup_holder_died: number;
  /** False deaths: declared by a node linked to the member (near) or not (far). */
  false_death_near: number;
  false_death_far: number;
  /** Of those: the member had already refuted (its incarnation was beyond the one declared dead). */
  false_death_refuted: number;
  /** Live members suspected (by anyone) at least once. */
  suspicions_of_live: number;
  /** Crashes: from the crash to the first suspicion (anywhere), and from it to the first death declared (s). */
  crash_to_suspect_p50_s: number;
  crash_to_suspect_p99_s: number;
  suspect_to_dead_p50_s: number;
  suspect_to_dead_p99_s: number;
  /** Probe rounds (of the live nodes) whose first ping went unanswered, and those with no helper for indirect probes. */
  probe_first_missed: number;
  probe_no_helper: number;
}

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(1000 * s[Math.min(s.length - 1, Math.floor(q * s.length))]!) / 1000;
};

export class SimDiagnostics {
  private readonly r: SimDiagnosticsResult = {
    lookup_unanswered: 0,
    lookup_empty: 0,
    lookup_not_stored: 0,
    lookup_stale_keepers: 0,
    lookup_holder_died: 0,
    false_death_near: 0,
    false_death_far: 0,
    false_death_refuted: 0,
    suspicions_of_live: 0,
    crash_to_suspect_p50_s: Number.NaN,
    crash_to_suspect_p99_s: Number.NaN,
    suspect_to_dead_p50_s: Number.NaN,
    suspect_to_dead_p99_s: Number.NaN,
    probe_first_missed: 0,
    probe_no_helper: 0,
  };
  /** Crashed members: when they crashed, when first suspected. */
  private readonly crashes = new Map<string, { at: number; suspected: number | null; state: Record<string, unknown> }>();
  private readonly toSuspect: number[] = [];
  private readonly toDead: number[] = [];
  /** First suspicion of each member at each incarnation: when, and by whom. */
  private readonly firstSuspicion = new Map<string, { at: number; by: string }>();

  constructor(
    private readonly now: () => number,
    private readonly live: () => readonly DiagNode[],
    private readonly trace: boolean,
  ) {}

  get result(): SimDiagnosticsResult {
    let missed = 0;
    let noHelper = 0;
    for (const n of this.live()) {
      missed += n.overlay.detector.missedFirst;
      noHelper += n.overlay.detector.noHelper;
    }
    return {
      ...this.r,
      probe_first_missed: missed,
      probe_no_helper: noHelper,
      crash_to_suspect_p50_s: quantile(this.toSuspect, 0.5),
      crash_to_suspect_p99_s: quantile(this.toSuspect, 0.99),
      suspect_to_dead_p50_s: quantile(this.toDead, 0.5),
      suspect_to_dead_p99_s: quantile(this.toDead, 0.99),
    };
  }

  crashed(victim: DiagNode): void {
    const links = victim.overlay.views.neighbours();
    const byKey = new Map(this.live().map((n) => [n.key, n]));
    // Who probes it: the ends of its view links that count it among their own probed neighbours.
    const probers = links.filter((k) => byKey.get(k)?.overlay.views.isViewLink(victim.key)).length;
    const state = { age_s: (this.now() - victim.bornAt) / 1000, links: links.length, view_links: links.filter((k) => victim.overlay.views.isViewLink(k)).length, probers };
    this.crashes.set(victim.key, { at: this.now(), suspected: null, state });
  }

  /** A suspicion of a crashed member, at some node. */
  crashSuspected(key: string, by: string): void {
    const c = this.crashes.get(key);
    if (!c || c.suspected !== null) return;
    c.suspected = this.now();
    this.toSuspect.push((c.suspected - c.at) / 1000);
    if (this.trace) this.line('crash-suspected', { victim: key.slice(0, 8), by: by.slice(0, 8), after_s: (c.suspected - c.at) / 1000 });
  }

  /** The first death declared of a crashed member, by `declarer`. */
  crashDetected(key: string, declarer: DiagNode): void {
    const c = this.crashes.get(key);
    if (!c) return;
    const s = c.suspected ?? this.now();
    this.toDead.push((this.now() - s) / 1000);
    if (this.trace && this.now() - c.at > 4500) this.line('slow-detection', { victim: key.slice(0, 8), declarer: declarer.key.slice(0, 8), crash_to_suspect_s: (s - c.at) / 1000, suspect_to_dead_s: (this.now() - s) / 1000, ...c.state });
  }

  holderDied(): void {
    this.r.lookup_holder_died++;
  }

  /** Suspicions started at each node (`node/victim`): when, from whom, and whether the node was linked to the victim. */
  private readonly started = new Map<string, { at: number; by: string; linked: boolean; view: boolean }>();

  /** A suspicion of live member `victim` raised or relayed at `at`. */
  suspected(victim: DiagNode, by: string, at?: DiagNode): void {
    if (this.trace && at) {
      const linked = at.overlay.views.neighbours().includes(victim.key);
      this.started.set(`${at.key}/${victim.key}`, { at: this.now(), by, linked, view: linked && at.overlay.views.isViewLink(victim.key) });
    }
    const id = `${victim.key}/${victim.overlay.membership.incarnation}`;
    if (this.firstSuspicion.has(id)) return;
    this.firstSuspicion.set(id, { at: this.now(), by });
    this.r.suspicions_of_live++;
  }

  /** `declarer` declared live member `victim` dead at incarnation `inc`. */
  falseDeath(declarer: DiagNode, victim: DiagNode, inc: number): void {
    const linked = declarer.overlay.views.neighbours().includes(victim.key);
    if (linked) this.r.false_death_near++;
    else this.r.false_death_far++;
    const vinc = victim.overlay.membership.incarnation;
    if (vinc > inc) this.r.false_death_refuted++;
    if (!this.trace) return;
    const first = this.firstSuspicion.get(`${victim.key}/${inc}`);
    const vlinks = victim.overlay.views.neighbours();
    const here = this.started.get(`${declarer.key}/${victim.key}`);
    this.line('false-death', {
      declarer_started_ms_ago: here ? this.now() - here.at : null,
      declarer_heard_from: here ? (here.by === declarer.key ? 'self' : here.by.slice(0, 8) || '(sync)') : null,
      declarer_linked_at_start: here?.linked ?? null,
      declarer_view_at_start: here?.view ?? null,
      declarer: declarer.key.slice(0, 8),
      victim: victim.key.slice(0, 8),
      inc,
      victim_inc: vinc,
      linked,
      since_first_suspicion_ms: first ? this.now() - first.at : null,
      first_by: first?.by.slice(0, 8) ?? null,
      first_by_linked_to_victim: first ? vlinks.includes(first.by) : null,
      victim_links: vlinks.length,
      victim_health: victim.overlay.awareness.health,
      victim_age_s: (this.now() - victim.bornAt) / 1000,
      declarer_health: declarer.overlay.awareness.health,
    });
  }

  /** A lookup from `from` of `id`, published by live `holder`, came back without its record. */
  lookupFailed(from: DiagNode, holder: DiagNode, id: string, ok: boolean, hops: number): void {
    if (ok) this.r.lookup_empty++;
    else this.r.lookup_unanswered++;
    const pos = keyPosition(id);
    const replicas = from.overlay.table.successors(pos, 3).length;
    const sorted = [...this.live()].sort((a, b) => a.pos - b.pos);
    let i = sorted.findIndex((n) => n.pos >= pos);
    if (i < 0) i = 0;
    const truth = Array.from({ length: Math.min(replicas, sorted.length) }, (_, k) => sorted[(i + k) % sorted.length]!);
    const held = truth.filter((n) => n.overlay.registry.holds(id, holder.key)).map((n) => n.key.slice(0, 8));
    const seen = from.overlay.table.successors(pos, replicas);
    const stale = truth.some((n) => !seen.includes(n.key));
    if (held.length === 0) this.r.lookup_not_stored++;
    if (stale) this.r.lookup_stale_keepers++;
    if (!this.trace) return;
    this.line('lookup-failed', {
      from: from.key.slice(0, 8),
      holder: holder.key.slice(0, 8),
      holder_age_s: (this.now() - holder.bornAt) / 1000,
      from_age_s: (this.now() - from.bornAt) / 1000,
      ok,
      hops,
      true_keepers: truth.map((n) => `${n.key.slice(0, 8)}@${((this.now() - n.bornAt) / 1000).toFixed(0)}s`),
      held_by: held,
      // Each true keeper's own keepers of the key (whether it takes itself for one).
      keepers_see: truth.map((n) => n.overlay.table.successors(pos, replicas).map((k) => k.slice(0, 8))),
      asked_keepers: seen.map((k) => k.slice(0, 8)),
      covers: from.overlay.table.covers(pos, replicas),
      // For a lookup that does not cover the key: the two closest members before it, whether their windows cover it, and the keepers they see.
      before: from.overlay.table.preceding(pos, 2).map((k) => {
        const p = this.live().find((n) => n.key === k);
        return p ? { key: k.slice(0, 8), covers: p.overlay.table.covers(pos, replicas), est: p.overlay.table.estimate(), keepers: p.overlay.table.successors(pos, replicas).map((x) => x.slice(0, 8)) } : { key: k.slice(0, 8), dead: true };
      }),
      holder_sees: holder.overlay.table.successors(pos, replicas).map((k) => k.slice(0, 8)),
    });
  }

  private line(kind: string, fields: Record<string, unknown>): void {
    process.stderr.write(`${JSON.stringify({ t_s: this.now() / 1000, kind, ...fields })}\n`);
  }
}
