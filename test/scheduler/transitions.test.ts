import { describe, expect, it } from 'vitest';
import type { AgentState, InputType } from '../../src/scheduler/protocol/agent-core.js';
import { STAY, TRANSITIONS } from '../../src/scheduler/protocol/transitions.js';
import { DvmsHarness } from './helpers/dvms-harness.js';

const LEADER_PHASES: readonly AgentState[] = ['probing', 'solving', 'applying', 'waiting', 'handover', 'merging'];

/** Runs the harness through saturation and merges, a crashing leader, admissions, a drain and a close. */
function busyRun(seed: number, jitterMs: number, ring: boolean): DvmsHarness {
  const h = new DvmsHarness({ hosts: 12, vmsPerHost: 8, seed, jitterMs, ring, agent: { maxRounds: 2 } });
  for (let v = 0; v < 96; v++) h.cluster.setLoad(v, 45, 0);
  h.injectLoads(20, 20_000);
  h.queue.after(4_000, () => h.agents[1]?.admit([{ id: 'new-1', cpu: 10, mem: 1024 }]));
  h.queue.after(8_000, () => h.agents[2]?.drain());
  h.queue.after(12_000, () => {
    const leader = h.agents.findIndex((a, i) => a.isLeader && h.cluster.alive[i] === 1);
    h.crash(leader >= 0 ? leader : 3);
  });
  for (const at of [2_000, 16_000]) h.queue.after(at, () => h.agents.find((a) => a.isLeader)?.close());
  // A node crashing while it migrates a VM (its step times out) or while it is a member (it stays silent to probes).
  for (const at of [6_000, 10_000, 14_000]) {
    h.queue.after(at, () => {
      const moving = [...h.inFlight.keys()].map((vm) => h.cluster.vmHost[Number(vm.slice(1))] ?? -1);
      const member = h.agents.findIndex((a, i) => a.partition !== null && !a.isLeader && h.cluster.alive[i] === 1);
      const victim = moving.find((i) => i >= 0 && h.cluster.alive[i] === 1) ?? member;
      if (victim >= 0) h.crash(victim);
    });
  }
  // A leader that just handed over crashes before the new leader's probe reaches it (a probe times out).
  let handedOver = false;
  h.onTransition.push((node, _from, input, to) => {
    if (handedOver || input !== 'joined' || to !== 'member' || h.queue.now < 3_000) return;
    handedOver = true;
    h.queue.after(0, () => h.crash(Number(node.slice(1))));
  });
  h.run(25_000);
  for (let v = 0; v < 96; v++) h.cluster.setLoad(v, 10, h.queue.now / 1000);
  h.run(90_000);
  return h;
}

describe('the agent transition table', () => {
  it('lists every transition the agents take, and the runs reach every leader phase and every input', () => {
    const taken = new Map<string, number>();
    for (const [seed, jitter, ring] of [
      [1, 0, true],
      [2, 40, false],
      [3, 80, true],
      [4, 10, false],
    ] as const) {
      const h = busyRun(seed, jitter, ring);
      expect(h.violations).toEqual([]);
      for (const [k, n] of h.transitions) taken.set(k, (taken.get(k) ?? 0) + n);
    }
    const unlisted: string[] = [];
    const inputs = new Set<string>();
    const reached = new Set<string>();
    for (const key of taken.keys()) {
      const [input, move] = key.split(': ') as [InputType, string];
      const [from, to] = move.split(' -> ') as [AgentState, AgentState];
      const next = TRANSITIONS[input][from]?.next ?? [];
      if (!next.includes(to) && !(from === to && next.includes(STAY))) unlisted.push(key);
      inputs.add(input);
      reached.add(to);
    }
    expect(unlisted).toEqual([]);
    expect(LEADER_PHASES.filter((p) => !reached.has(p))).toEqual([]);
    expect(Object.keys(TRANSITIONS).filter((i) => !inputs.has(i))).toEqual([]);
  });

  it('has no entry for a closed node, which ignores every input', () => {
    expect(Object.entries(TRANSITIONS).filter(([, row]) => 'closed' in row)).toEqual([]);
  });
});
