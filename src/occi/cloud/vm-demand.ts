import type { VmSpec } from '../../scheduler/model.js';
import { cores, memoryMiB } from '../domain-spec.js';
import type { Entity } from '../entity.js';

/**
 * What a compute asks of a host before it runs: its cores in full (the scheduler counts CPU in %
 * of a core) and its memory. Once it runs, the monitor measures its real CPU use instead.
 */
export function demandOf(compute: Entity): VmSpec {
  return { id: compute.id, cpu: Math.max(1, cores(compute) || 1) * 100, mem: Math.max(1, memoryMiB(compute) || 0) };
}
