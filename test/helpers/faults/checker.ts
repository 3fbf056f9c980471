/**
 * The checker of a fault-injection run: from every simulated host's domain event log and the
 * nemesis' record of frozen and dead processes, the intervals during which each compute ran on
 * each host; a violation is the same compute running on two hosts at one instant. A simulated
 * guest runs only while its host process runs: a frozen (SIGSTOP) or killed process runs none.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { History } from './history.js';

export interface Interval {
  host: string;
  from: number;
  to: number;
}

export interface DoubleRun {
  id: string;
  a: Interval;
  b: Interval;
  overlapMs: number;
}

interface LogEvent {
  t: number;
  id: string;
  state: string;
}

/** Running intervals per compute id on one host, from its event log; a kill ends them (the log of the next process starts afresh). */
export function runningIntervals(host: string, logFile: string, history: History, end: number): Map<string, Interval[]> {
  const out = new Map<string, Interval[]>();
  if (!existsSync(logFile)) return out;
  const events = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LogEvent);
  // A kill, or the stop that ends a drain: the process and the guests it ran are gone.
  const kills = history.faults
    .filter((f) => (f.kind === 'kill' || f.kind === 'drain') && f.nodes.includes(host) && history.stopOf(f) !== undefined)
    .map((f) => history.stopOf(f)!)
    .sort((a, b) => a - b);
  const open = new Map<string, number>();
  const close = (id: string, at: number) => {
    const from = open.get(id);
    if (from === undefined) return;
    open.delete(id);
    const list = out.get(id) ?? [];
    list.push({ host, from, to: at });
    out.set(id, list);
  };
  let k = 0;
  for (const e of events) {
    // A kill between two events ends everything its process ran.
    while (k < kills.length && kills[k]! <= e.t) {
      for (const id of [...open.keys()]) close(id, kills[k]!);
      k++;
    }
    if (e.state === 'running') {
      if (!open.has(e.id)) open.set(e.id, e.t);
    } else close(e.id, e.t);
  }
  while (k < kills.length) {
    for (const id of [...open.keys()]) close(id, kills[k]!);
    k++;
  }
  for (const id of [...open.keys()]) close(id, end);
  // A frozen process runs nothing: its intervals lose the frozen spans.
  const down = history.downtime(host, end);
  for (const [id, list] of out) out.set(id, list.flatMap((iv) => subtract(iv, down)));
  return out;
}

function subtract(iv: Interval, spans: Array<[number, number]>): Interval[] {
  let parts = [iv];
  for (const [a, b] of spans) {
    parts = parts.flatMap((p) => {
      if (b <= p.from || a >= p.to) return [p];
      const kept: Interval[] = [];
      if (a > p.from) kept.push({ ...p, to: a });
      if (b < p.to) kept.push({ ...p, from: b });
      return kept;
    });
  }
  return parts.filter((p) => p.to > p.from);
}

/** Every instant a compute ran on two hosts at once. */
export function doubleRuns(perHost: Map<string, Map<string, Interval[]>>): DoubleRun[] {
  const byId = new Map<string, Interval[]>();
  for (const intervals of perHost.values()) for (const [id, list] of intervals) byId.set(id, [...(byId.get(id) ?? []), ...list]);
  const found: DoubleRun[] = [];
  for (const [id, list] of byId) {
    list.sort((x, y) => x.from - y.from);
    for (let i = 0; i < list.length; i++)
      for (let j = i + 1; j < list.length && list[j]!.from < list[i]!.to; j++) {
        const a = list[i]!;
        const b = list[j]!;
        if (a.host !== b.host) found.push({ id, a, b, overlapMs: Math.min(a.to, b.to) - b.from });
      }
  }
  return found;
}
