/** What a compute asks of a host, as the scheduler counts it: CPU in % of a core at the cloud's allocation ratio, memory in MiB. */
import type { VmSpec } from '../scheduler/model.js';
import { cores, memoryMiB } from '../occi/domain-spec.js';
import type { Entity } from '../occi/entity.js';

/**
 * vCPUs the cloud allocates per core of a host: a compute is admitted for its cores divided by
 * this ratio (CPU is overcommitted, as clouds do), and never counts less than that once it runs;
 * when computes get busier than their share, the monitor measures it and DVMS rebalances.
 */
export const DEFAULT_CPU_ALLOCATION_RATIO = 4;

/** What a compute asks of a host (the scheduler counts CPU in % of a core, memory in MiB). */
export function demandOf(compute: Entity, cpuAllocationRatio = DEFAULT_CPU_ALLOCATION_RATIO): VmSpec {
  return { id: compute.id, cpu: cpuShare(cores(compute) || 1, cpuAllocationRatio), mem: Math.max(1, memoryMiB(compute) || 0) };
}

/** CPU (in % of a core) that `vcpus` hold on a host at this allocation ratio. */
export function cpuShare(vcpus: number, cpuAllocationRatio = DEFAULT_CPU_ALLOCATION_RATIO): number {
  return (Math.max(1, vcpus) * 100) / cpuAllocationRatio;
}
