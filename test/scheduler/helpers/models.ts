import { createModel, type Model } from '../../../src/scheduler/model.js';

/** nodes: id → [cpu, mem]; vms: id → [cpu, mem, host | null]. */
export function model(
  nodes: Record<string, [number, number]>,
  vms: Record<string, [number, number, string | null]>,
  offline: string[] = [],
): Model {
  return createModel({
    nodes: Object.entries(nodes).map(([id, [cpu, mem]]) => ({ id, cpu, mem })),
    vms: Object.entries(vms).map(([id, [cpu, mem]]) => ({ id, cpu, mem })),
    host: Object.fromEntries(Object.entries(vms).flatMap(([id, [, , h]]) => (h === null ? [] : [[id, h]]))),
    ready: Object.entries(vms).flatMap(([id, [, , h]]) => (h === null ? [id] : [])),
    offline,
  });
}
