/**
 * The solver's encoding of each constraint, wired by one registry table. An encoding turns a
 * declaration into hooks on the solver state: VMs that must not move, VMs that must leave their
 * current node for the constraint to hold, and a placement filter for the VMs being (re)placed.
 */
import type { Constraint, ConstraintKind } from '../constraints/index.js';
import type { RandomSource } from '../random.js';
import type { SolverState } from './state.js';

export interface EncodingContext {
  readonly rng: RandomSource;
  /** 0 for the first, deterministic attempt; later attempts randomise their choices. */
  readonly attempt: number;
}

export interface Encoded {
  /** Called once: may pin VMs, change node usability or raise effective demands. */
  setup?(st: SolverState): void;
  /** VMs to unplace from the source placement for the constraint to have a chance. */
  mustMove?(st: SolverState, ctx: EncodingContext): number[];
  /** May VM v be placed on node n given the current partial placement? */
  allows?(st: SolverState, v: number, n: number): boolean;
}

type Encoder<K extends ConstraintKind> = (c: Extract<Constraint, { kind: K }>, st: SolverState) => Encoded;

/** Chooses the key with the highest count; later attempts pick at random among the present keys. */
function pick(counts: Map<number, number>, ctx: EncodingContext): number {
  const keys = [...counts.keys()];
  if (ctx.attempt > 0 && keys.length > 1 && ctx.rng.next() < 0.5) return keys[Math.floor(ctx.rng.next() * keys.length)] ?? -1;
  let best = -1;
  let bestCount = -1;
  for (const [k, c] of counts) if (c > bestCount) [best, bestCount] = [k, c];
  return best;
}

function placedHosts(st: SolverState, vms: readonly number[], except = -1): number[] {
  const out: number[] = [];
  for (const v of vms) {
    const h = st.host[v] ?? -1;
    if (v !== except && h >= 0) out.push(h);
  }
  return out;
}

/** Shared by among and latency. */
function groupEncoding(vmIds: readonly string[], groups: readonly (readonly string[])[], st: SolverState): Encoded {
  const vms = st.vmsOf(vmIds);
  const member = new Set(vms);
  const groupSets = groups.map((g) => new Set(st.nodesOf(g)));
  const fitsGroup = (hosts: number[]): number[] => groupSets.flatMap((g, i) => (hosts.every((h) => g.has(h)) ? [i] : []));
  return {
    mustMove(s, ctx) {
      const hosts = placedHosts(s, vms);
      if (hosts.length === 0 || fitsGroup(hosts).length > 0) return [];
      const counts = new Map<number, number>();
      groupSets.forEach((g, i) => counts.set(i, hosts.filter((h) => g.has(h)).length));
      const g = groupSets[pick(counts, ctx)] ?? new Set<number>();
      return vms.filter((v) => (s.host[v] ?? -1) >= 0 && !g.has(s.host[v] ?? -1));
    },
    allows(s, v, n) {
      if (!member.has(v)) return true;
      return fitsGroup([...placedHosts(s, vms, v), n]).length > 0;
    },
  };
}

/** Evicts from a node set until `over()` is false (smallest VMs first). */
function evictUntil(st: SolverState, nodes: readonly number[], over: () => boolean): number[] {
  const out: number[] = [];
  const from: number[] = [];
  const candidates = nodes.flatMap((n) => [...(st.residents[n] ?? [])]).filter((v) => st.pinned[v] !== 1);
  candidates.sort((a, b) => (st.demMem[a] ?? 0) - (st.demMem[b] ?? 0));
  for (const v of candidates) {
    if (!over()) break;
    from.push(st.host[v] ?? -1);
    st.unplace(v);
    out.push(v);
  }
  out.forEach((v, i) => st.place(v, from[i] ?? -1));
  return out;
}

export const ENCODINGS: { readonly [K in ConstraintKind]: Encoder<K> } = {
  ban(c, st) {
    const vms = new Set(st.vmsOf(c.vms));
    const nodes = new Set(st.nodesOf(c.nodes));
    return {
      mustMove: (s) => [...vms].filter((v) => nodes.has(s.host[v] ?? -1)),
      allows: (_s, v, n) => !(vms.has(v) && nodes.has(n)),
    };
  },
  fence(c, st) {
    const vms = new Set(st.vmsOf(c.vms));
    const nodes = new Set(st.nodesOf(c.nodes));
    return {
      mustMove: (s) => [...vms].filter((v) => (s.host[v] ?? -1) >= 0 && !nodes.has(s.host[v] ?? -1)),
      allows: (_s, v, n) => !vms.has(v) || nodes.has(n),
    };
  },
  spread(c, st) {
    const vms = st.vmsOf(c.vms);
    const member = new Set(vms);
    return {
      mustMove(s) {
        const seen = new Set<number>();
        const out: number[] = [];
        for (const v of vms) {
          const h = s.host[v] ?? -1;
          if (h < 0) continue;
          if (seen.has(h)) out.push(v);
          else seen.add(h);
        }
        return out;
      },
      allows: (s, v, n) => !member.has(v) || !placedHosts(s, vms, v).includes(n),
    };
  },
  gather(c, st) {
    const vms = st.vmsOf(c.vms);
    const member = new Set(vms);
    return {
      mustMove(s, ctx) {
        const counts = new Map<number, number>();
        for (const h of placedHosts(s, vms)) counts.set(h, (counts.get(h) ?? 0) + 1);
        if (counts.size <= 1) return [];
        const keep = pick(counts, ctx);
        return vms.filter((v) => (s.host[v] ?? -1) >= 0 && s.host[v] !== keep);
      },
      allows: (s, v, n) => !member.has(v) || placedHosts(s, vms, v).every((h) => h === n),
    };
  },
  among: (c, st) => groupEncoding(c.vms, c.groups, st),
  latency: (c, st) => groupEncoding(c.vms, c.groups, st),
  split(c, st) {
    const groupOf = new Map<number, number>();
    c.groups.forEach((g, i) => st.vmsOf(g).forEach((v) => groupOf.set(v, i)));
    return {
      mustMove(s, ctx) {
        const out: number[] = [];
        s.residents.forEach((res) => {
          const counts = new Map<number, number>();
          for (const v of res) {
            const g = groupOf.get(v);
            if (g !== undefined) counts.set(g, (counts.get(g) ?? 0) + 1);
          }
          if (counts.size <= 1) return;
          const keep = pick(counts, ctx);
          for (const v of res) {
            const g = groupOf.get(v);
            if (g !== undefined && g !== keep) out.push(v);
          }
        });
        return out;
      },
      allows(s, v, n) {
        const g = groupOf.get(v);
        if (g === undefined) return true;
        for (const o of s.residents[n] ?? []) {
          const og = groupOf.get(o);
          if (og !== undefined && og !== g) return false;
        }
        return true;
      },
    };
  },
  lonely(c, st) {
    const member = new Set(st.vmsOf(c.vms));
    return {
      mustMove(s) {
        const out: number[] = [];
        for (const res of s.residents) {
          let m = false;
          for (const v of res) if (member.has(v)) m = true;
          if (m) for (const v of res) if (!member.has(v)) out.push(v);
        }
        return out;
      },
      allows(s, v, n) {
        for (const o of s.residents[n] ?? []) if (member.has(o) !== member.has(v)) return false;
        return true;
      },
    };
  },
  root(c, st) {
    return {
      setup(s) {
        for (const v of st.vmsOf(c.vms)) if ((s.source[v] ?? -1) >= 0) s.pinned[v] = 1;
      },
    };
  },
  preserve(c, st) {
    return {
      setup(s) {
        const dem = c.resource === 'cpu' ? s.demCpu : s.demMem;
        for (const v of st.vmsOf(c.vms)) dem[v] = Math.max(dem[v] ?? 0, c.amount);
      },
    };
  },
  quarantine(c, st) {
    const nodes = new Set(st.nodesOf(c.nodes));
    return {
      setup(s) {
        for (let v = 0; v < s.vmIds.length; v++) if (nodes.has(s.source[v] ?? -1)) s.pinned[v] = 1;
      },
      allows: (s, v, n) => !nodes.has(n) || (s.source[v] ?? -1) < 0 || s.source[v] === n,
    };
  },
  resourceCapacity(c, st) {
    const nodes = st.nodesOf(c.nodes);
    const set = new Set(nodes);
    const sum = (s: SolverState): number => nodes.reduce((a, n) => a + ((c.resource === 'cpu' ? s.usedCpu : s.usedMem)[n] ?? 0), 0);
    return {
      mustMove: (s) => evictUntil(s, nodes, () => sum(s) > c.amount + 1e-9),
      allows: (s, v, n) => !set.has(n) || sum(s) + ((c.resource === 'cpu' ? s.demCpu : s.demMem)[v] ?? 0) <= c.amount + 1e-9,
    };
  },
  runningCapacity(c, st) {
    const nodes = st.nodesOf(c.nodes);
    const set = new Set(nodes);
    const count = (s: SolverState): number => nodes.reduce((a, n) => a + (s.residents[n]?.size ?? 0), 0);
    return {
      mustMove: (s) => evictUntil(s, nodes, () => count(s) > c.amount),
      allows: (s, _v, n) => !set.has(n) || count(s) + 1 <= c.amount,
    };
  },
  online(c, st) {
    return {
      setup(s) {
        for (const n of st.nodesOf(c.nodes)) {
          if (s.usable[n] !== 1) s.boot[n] = 1;
          s.usable[n] = 1;
        }
      },
    };
  },
  offline(c, st) {
    const nodes = st.nodesOf(c.nodes);
    return {
      setup(s) {
        for (const n of nodes) {
          s.usable[n] = 0;
          s.shutdown[n] = 1;
        }
      },
      mustMove: (s) => nodes.flatMap((n) => [...(s.residents[n] ?? [])]),
    };
  },
};

export function encode(c: Constraint, st: SolverState): Encoded {
  const encoder = ENCODINGS[c.kind] as unknown as (c: Constraint, st: SolverState) => Encoded;
  return encoder(c, st);
}
