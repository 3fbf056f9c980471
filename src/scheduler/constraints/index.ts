/** All constraint declarations and the checker registry. */
import type { AmongConstraint } from './among.js';
import { AmongChecker } from './among.js';
import type { BanConstraint } from './ban.js';
import { BanChecker } from './ban.js';
import type { AllowAllChecker } from './checker.js';
import type { FenceConstraint } from './fence.js';
import { FenceChecker } from './fence.js';
import type { GatherConstraint } from './gather.js';
import { GatherChecker } from './gather.js';
import type { LatencyConstraint } from './latency.js';
import { LatencyChecker } from './latency.js';
import type { LonelyConstraint } from './lonely.js';
import { LonelyChecker } from './lonely.js';
import type { OfflineConstraint } from './offline.js';
import { OfflineChecker } from './offline.js';
import type { OnlineConstraint } from './online.js';
import { OnlineChecker } from './online.js';
import type { PreserveConstraint } from './preserve.js';
import { PreserveChecker } from './preserve.js';
import type { QuarantineConstraint } from './quarantine.js';
import { QuarantineChecker } from './quarantine.js';
import type { ResourceCapacityConstraint } from './resource-capacity.js';
import { ResourceCapacityChecker } from './resource-capacity.js';
import type { RootConstraint } from './root.js';
import { RootChecker } from './root.js';
import type { RunningCapacityConstraint } from './running-capacity.js';
import { RunningCapacityChecker } from './running-capacity.js';
import type { SplitConstraint } from './split.js';
import { SplitChecker } from './split.js';
import type { SpreadConstraint } from './spread.js';
import { SpreadChecker } from './spread.js';

export type Constraint =
  | BanConstraint
  | FenceConstraint
  | SpreadConstraint
  | GatherConstraint
  | AmongConstraint
  | SplitConstraint
  | LonelyConstraint
  | RootConstraint
  | PreserveConstraint
  | QuarantineConstraint
  | ResourceCapacityConstraint
  | RunningCapacityConstraint
  | OnlineConstraint
  | OfflineConstraint
  | LatencyConstraint;

export type ConstraintKind = Constraint['kind'];

type CheckerFactory<K extends ConstraintKind> = new (c: Extract<Constraint, { kind: K }>) => AllowAllChecker<Extract<Constraint, { kind: K }>>;

export const CHECKERS: { readonly [K in ConstraintKind]: CheckerFactory<K> } = {
  ban: BanChecker,
  fence: FenceChecker,
  spread: SpreadChecker,
  gather: GatherChecker,
  among: AmongChecker,
  split: SplitChecker,
  lonely: LonelyChecker,
  root: RootChecker,
  preserve: PreserveChecker,
  quarantine: QuarantineChecker,
  resourceCapacity: ResourceCapacityChecker,
  runningCapacity: RunningCapacityChecker,
  online: OnlineChecker,
  offline: OfflineChecker,
  latency: LatencyChecker,
};

export function checkerFor(c: Constraint): AllowAllChecker<Constraint> {
  const Factory = CHECKERS[c.kind] as unknown as new (c: Constraint) => AllowAllChecker<Constraint>;
  return new Factory(c);
}

export { among } from './among.js';
export { ban } from './ban.js';
export { fence } from './fence.js';
export { gather } from './gather.js';
export { latency } from './latency.js';
export { lonely } from './lonely.js';
export { offline } from './offline.js';
export { online } from './online.js';
export { preserve } from './preserve.js';
export { quarantine } from './quarantine.js';
export { resourceCapacity } from './resource-capacity.js';
export { root } from './root.js';
export { runningCapacity } from './running-capacity.js';
export { split } from './split.js';
export { spread } from './spread.js';
export { AllowAllChecker } from './checker.js';
export * from './latency-groups.js';
