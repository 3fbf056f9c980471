/**
 * The exact solver's encoding of each constraint, wired by one registry table: `setup` narrows the
 * VMs' domains (allowed nodes), pins VMs or switches nodes on or off before the columns exist;
 * `rows` adds the linear rows over the placement columns x[vm, node].
 */
import type { Constraint, ConstraintKind } from '../constraints/index.js';
import type { ExactProblem } from './exact-problem.js';
import { LinearExpr } from './milp.js';

export interface MilpEncoded {
  setup?(p: ExactProblem): void;
  rows?(p: ExactProblem): void;
}

type Encoder<K extends ConstraintKind> = (c: Extract<Constraint, { kind: K }>, p: ExactProblem) => MilpEncoded;

/** Sum of x[v, n] over the VMs, on one node. */
function countOn(p: ExactProblem, vms: readonly number[], n: number, weight: (v: number) => number = () => 1): LinearExpr {
  const e = new LinearExpr();
  for (const v of vms) p.addX(e, v, n, weight(v));
  return e;
}

/** among and latency: one binary per group, one group chosen, each VM on a node of the chosen group. */
function oneGroup(vmIds: readonly string[], groups: readonly (readonly string[])[], p: ExactProblem, tag: string): MilpEncoded {
  const vms = p.vmsOf(vmIds);
  const groupNodes = groups.map((g) => new Set(p.nodesOf(g)));
  return {
    rows(q) {
      const z = groupNodes.map((_, g) => q.program.binary(q.fresh(`${tag}g${g}`)));
      const pick = new LinearExpr();
      for (const col of z) pick.add(col, 1);
      q.program.row(pick, '=', 1);
      for (const v of vms) {
        for (let n = 0; n < q.nodeIds.length; n++) {
          const e = new LinearExpr();
          q.addX(e, v, n, 1);
          groupNodes.forEach((nodes, g) => {
            if (nodes.has(n)) e.add(z[g] ?? null, -1);
          });
          q.program.row(e, '<=', 0);
        }
      }
    },
  };
}

export const MILP_ENCODINGS: { readonly [K in ConstraintKind]: Encoder<K> } = {
  ban(c, p) {
    const nodes = p.nodesOf(c.nodes);
    return { setup: (q) => q.vmsOf(c.vms).forEach((v) => nodes.forEach((n) => q.forbid(v, n))) };
  },
  fence(c, p) {
    const nodes = new Set(p.nodesOf(c.nodes));
    return {
      setup: (q) => q.vmsOf(c.vms).forEach((v) => q.nodeIds.forEach((_, n) => (nodes.has(n) ? undefined : q.forbid(v, n)))),
    };
  },
  spread(c, p) {
    const vms = p.vmsOf(c.vms);
    return { rows: (q) => q.nodeIds.forEach((_, n) => q.program.row(countOn(q, vms, n), '<=', 1)) };
  },
  gather(c, p) {
    const [first, ...rest] = p.vmsOf(c.vms);
    return {
      rows(q) {
        if (first === undefined) return;
        for (const v of rest) {
          for (let n = 0; n < q.nodeIds.length; n++) {
            const e = new LinearExpr();
            q.addX(e, first, n, 1);
            q.addX(e, v, n, -1);
            q.program.row(e, '=', 0);
          }
        }
      },
    };
  },
  among: (c, p) => oneGroup(c.vms, c.groups, p, 'among'),
  latency: (c, p) => oneGroup(c.vms, c.groups, p, 'lat'),
  split(c, p) {
    const groups = c.groups.map((g) => p.vmsOf(g));
    return {
      rows(q) {
        for (let n = 0; n < q.nodeIds.length; n++) {
          const used = new LinearExpr();
          groups.forEach((vms, g) => {
            const u = q.program.binary(q.fresh(`split${g}n${n}`));
            used.add(u, 1);
            for (const v of vms) {
              const e = new LinearExpr();
              q.addX(e, v, n, 1);
              q.program.row(e.add(u, -1), '<=', 0);
            }
          });
          q.program.row(used, '<=', 1);
        }
      },
    };
  },
  lonely(c, p) {
    const members = new Set(p.vmsOf(c.vms));
    return {
      rows(q) {
        for (let n = 0; n < q.nodeIds.length; n++) {
          const l = q.program.binary(q.fresh(`lonely${n}`));
          for (let v = 0; v < q.vmIds.length; v++) {
            const e = new LinearExpr();
            q.addX(e, v, n, 1);
            // A member on n makes n lonely (x <= l); a non-member on n needs it not lonely (x <= 1 - l).
            if (members.has(v)) q.program.row(e.add(l, -1), '<=', 0);
            else q.program.row(e.add(l, 1), '<=', 1);
          }
        }
      },
    };
  },
  root: (c) => ({ setup: (q) => q.vmsOf(c.vms).forEach((v) => q.pin(v)) }),
  preserve(c, p) {
    const vms = p.vmsOf(c.vms);
    return {
      rows(q) {
        const dem = c.resource === 'cpu' ? q.demCpu : q.demMem;
        const cap = c.resource === 'cpu' ? q.capCpu : q.capMem;
        const all = q.vmIds.map((_, v) => v);
        for (const v of vms) {
          for (let n = 0; n < q.nodeIds.length; n++) {
            if (!q.canHost(v, n)) continue;
            // The others' demand plus what v keeps for itself fit n when v is there.
            const e = countOn(q, all, n, (w) => (w === v ? Math.max(c.amount, dem[v] ?? 0) : (dem[w] ?? 0)));
            q.program.row(e, '<=', cap[n] ?? 0);
          }
        }
      },
    };
  },
  quarantine(c, p) {
    const nodes = new Set(p.nodesOf(c.nodes));
    return {
      setup(q) {
        for (let v = 0; v < q.vmIds.length; v++) {
          const s = q.source[v] ?? -1;
          if (nodes.has(s)) q.pin(v);
          else if (s >= 0) nodes.forEach((n) => q.forbid(v, n));
        }
      },
    };
  },
  resourceCapacity(c, p) {
    const nodes = p.nodesOf(c.nodes);
    return {
      rows(q) {
        const dem = c.resource === 'cpu' ? q.demCpu : q.demMem;
        const all = q.vmIds.map((_, v) => v);
        const e = new LinearExpr();
        for (const n of nodes) for (const v of all) q.addX(e, v, n, dem[v] ?? 0);
        q.program.row(e, '<=', c.amount);
      },
    };
  },
  runningCapacity(c, p) {
    const nodes = p.nodesOf(c.nodes);
    return {
      rows(q) {
        const all = q.vmIds.map((_, v) => v);
        const e = new LinearExpr();
        for (const n of nodes) for (const v of all) q.addX(e, v, n, 1);
        q.program.row(e, '<=', c.amount);
      },
    };
  },
  online: (c) => ({ setup: (q) => q.nodesOf(c.nodes).forEach((n) => q.switchOn(n)) }),
  offline: (c) => ({ setup: (q) => q.nodesOf(c.nodes).forEach((n) => q.switchOff(n)) }),
};

export function encodeMilp(c: Constraint, p: ExactProblem): MilpEncoded {
  const encoder = MILP_ENCODINGS[c.kind] as unknown as (c: Constraint, p: ExactProblem) => MilpEncoded;
  return encoder(c, p);
}
