/**
 * Snooze as VMPlaceS runs it (scheduling/hierarchical/snooze/): a group leader assigns the hosts
 * to group managers (here: groups of `snoozeGroupSize` hosts close to one another, each manager at
 * the site nearest its group) and hands the VMs to restart to them; each group manager plans for
 * its group alone with Entropy's solver (VMPlaceS reuses Entropy's code there), repair mode and
 * Entropy's time limit for the group's size. Group managers are reactive, as VMPlaceS configures
 * them (`snooze.scheduling-periodic = false`: a manager polls its hosts every 70 ms and plans when
 * one is over capacity, at most once a second): the first report of an overload in its group wakes
 * a manager once it has arrived, at least `snoozePeriodS` after its last planning began.
 */
import type { SimContext } from './context.js';
import { entropyTimeLimitMs, solveRepair } from './entropy.js';
import { hostGroups } from './managers.js';
import { runManager } from './manager-loop.js';

export function runSnooze(ctx: SimContext): void {
  const { options, topology, env } = ctx;
  const groups = hostGroups(topology, options.hosts, options.snoozeGroupSize);
  const groupOf = new Int32Array(options.hosts);
  const managers = groups.map((group, g) => {
    for (const h of group.hosts) groupOf[h] = g;
    const timeLimitMs = entropyTimeLimitMs(group.hosts.length);
    return runManager(ctx, {
      at: group.manager,
      hosts: group.hosts,
      periodMs: options.snoozePeriodS * 1000,
      // The group leader deals the VMs to restart over the group managers.
      owns: (vm) => vm % groups.length === g,
      solve: (model, overloaded) => solveRepair(model, overloaded, timeLimitMs, () => env.wallNow()),
      reactive: true,
    });
  });
  ctx.monitoring.onOverloadSample((h) => managers[groupOf[h] ?? 0]?.overloadReported(h));
}
