/**
 * Snooze as VMPlaceS runs it (scheduling/hierarchical/snooze/): a group leader assigns the hosts
 * to group managers (here: groups of `snoozeGroupSize` hosts close to one another, each manager at
 * the site nearest its group) and hands the VMs to restart to them; each group manager plans for
 * its group alone with Entropy's solver (VMPlaceS reuses Entropy's code there), repair mode and
 * Entropy's time limit for the group's size, on its loop of `snoozePeriodS`.
 */
import type { SimContext } from './context.js';
import { entropyTimeLimitMs, solveRepair } from './entropy.js';
import { hostGroups } from './managers.js';
import { runManager } from './manager-loop.js';

export function runSnooze(ctx: SimContext): void {
  const { options, topology, env } = ctx;
  const groups = hostGroups(topology, options.hosts, options.snoozeGroupSize);
  groups.forEach((group, g) => {
    const timeLimitMs = entropyTimeLimitMs(group.hosts.length);
    runManager(ctx, {
      at: group.manager,
      hosts: group.hosts,
      periodMs: options.snoozePeriodS * 1000,
      // The group leader deals the VMs to restart over the group managers.
      owns: (vm) => vm % groups.length === g,
      solve: (model, overloaded) => solveRepair(model, overloaded, timeLimitMs, () => env.wallNow()),
    });
  });
}
