import { describe, expect, it } from 'vitest';
import { SchedulerError } from '../../src/scheduler/errors.js';
import { precopyMs } from '../../src/scheduler/sim/migration.js';
import { messageBytes, SimNetwork } from '../../src/scheduler/sim/network.js';
import { lineChart, metricsTable, timelineSvg, traceCsv, violationSvg } from '../../src/scheduler/sim/report.js';
import { simulate, type SimMetrics } from '../../src/scheduler/sim/simulate.js';
import { parseRttCsv } from '../../src/scheduler/sim/topology.js';
import { EventQueue } from '../../src/scheduler/sim/event-queue.js';
import { COUNTRIES_RTT_MATRIX } from '../../src/mesh/rtt-matrix.js';

const small = { hosts: 24, vms: 240, durationS: 300, solveTime: 'model' as const };
const withoutWall = (m: SimMetrics): Omit<SimMetrics, 'wall_s' | 'peak_rss_mib'> => {
  const { wall_s: _w, peak_rss_mib: _r, ...rest } = m;
  return rest;
};

describe('simulator', () => {
  it('event queue pops in time order, insertion order on ties, skipping cancelled events', () => {
    const q = new EventQueue();
    const out: string[] = [];
    q.at(5, () => out.push('b'));
    q.at(1, () => out.push('a'));
    q.at(5, () => out.push('c'));
    q.at(3, () => out.push('x')).cancelled = true;
    for (let e = q.next(10); e; e = q.next(10)) e.fn();
    expect(out).toEqual(['a', 'b', 'c']);
  });

  it('is deterministic for a seed when solver time is modelled', () => {
    const a = simulate({ ...small, seed: 3 }, 'dvms');
    const b = simulate({ ...small, seed: 3 }, 'dvms');
    expect(withoutWall(a.metrics)).toEqual(withoutWall(b.metrics));
    expect(a.trace).toEqual(b.trace);
    const c = simulate({ ...small, seed: 4 }, 'dvms');
    expect(withoutWall(c.metrics)).not.toEqual(withoutWall(a.metrics));
  });

  it('every scheduler beats doing nothing on violation time, and none beats the migration floor', () => {
    const none = simulate({ ...small, seed: 1 }, 'none').metrics;
    expect(none.violation_s).toBeGreaterThan(0);
    expect(none.events).toBeGreaterThan(0);
    expect(none.migrations).toBe(0);
    for (const s of ['dvms', 'dvms-ring', 'entropy', 'snooze', 'centralized'] as const) {
      const m = simulate({ ...small, seed: 1 }, s).metrics;
      expect(m.violation_s).toBeLessThan(none.violation_s);
      expect(m.migrations).toBeGreaterThan(0);
      expect(m.partition_max).toBeLessThanOrEqual(24);
      expect(m.migration_floor_s).toBeGreaterThan(0);
      expect(m.violation_s).toBeGreaterThanOrEqual(m.migration_floor_s);
    }
  });

  it('detects overloads only at the monitoring samples: a longer period costs violation time', () => {
    const at = (monitoringS: number): SimMetrics => simulate({ ...small, seed: 5, monitoringS }, 'dvms').metrics;
    const instant = at(0);
    const slow = at(5);
    expect(slow.events).toBeGreaterThan(0);
    expect(slow.violation_s).toBeGreaterThan(instant.violation_s);
  });

  it("wakes snooze's group managers on the first report of an overload, where entropy waits for its period", () => {
    // One group of every host: the same manager and solver as entropy's; only the waking differs.
    const entropy = simulate({ ...small, seed: 1, entropyPeriodS: 30 }, 'entropy').metrics;
    const snooze = simulate({ ...small, seed: 1, snoozePeriodS: 30, snoozeGroupSize: small.hosts }, 'snooze').metrics;
    expect(snooze.partition_mean).toBe(entropy.partition_mean);
    expect(snooze.violation_per_event_s).toBeLessThan(0.8 * entropy.violation_per_event_s);
  });

  it('charges the network: messages take the latency plus their transfer, migrations their pre-copy rounds', () => {
    const copy = { bandwidthMBps: 125, dirtyMBps: 0, maxDowntimeMs: 300, maxRounds: 30 };
    expect(precopyMs(1024, copy)).toBeCloseTo((1024 * 1.048576 * 1000) / 125, 6);
    // A VM that dirties memory takes more rounds; one that dirties faster than the link never converges and stops after maxRounds.
    expect(precopyMs(1024, { ...copy, dirtyMBps: 50 })).toBeGreaterThan(precopyMs(1024, copy) * 1.5);
    expect(precopyMs(1024, { ...copy, dirtyMBps: 500, maxRounds: 3 })).toBeCloseTo(4 * precopyMs(1024, copy), 6);
    const q = new EventQueue();
    let arrived = -1;
    const net = new SimNetwork({ queue: q, latencyMs: () => 10, isAlive: () => true, bandwidthMBps: 1 });
    net.transport(1).onMessage(() => {
      arrived = q.now;
    });
    net.transport(0).send('h1', { type: 'keepalive', pid: 'p', epoch: 1 });
    for (let e = q.next(1e6); e; e = q.next(1e6)) e.fn();
    expect(arrived).toBeCloseTo(10 + messageBytes({ type: 'keepalive', pid: 'p', epoch: 1 }) / 1000, 9);
  });

  it('restarts the VMs of crashed hosts (dvms and centralized)', () => {
    for (const s of ['dvms', 'entropy', 'snooze', 'centralized'] as const) {
      const r = simulate({ ...small, seed: 2, crashes: 2, hostCpu: 1200 }, s);
      expect(r.trace.filter((t) => !t.alive)).toHaveLength(2);
      expect(r.details.lost_vms).toBe(0);
      expect(r.trace.reduce((a, t) => a + t.vms, 0)).toBe(240);
    }
    const none = simulate({ ...small, seed: 2, crashes: 2, hostCpu: 1200 }, 'none');
    expect(none.details.lost_vms).toBeGreaterThan(0);
  });

  it('runs over the RTT matrix of countries', () => {
    const r = simulate({ ...small, seed: 1, topology: COUNTRIES_RTT_MATRIX }, 'dvms');
    expect(r.trace.every((t) => t.site.length === 2)).toBe(true);
    expect(r.metrics.events).toBeGreaterThan(0);
  });

  it('rejects bad options with a coded error', () => {
    expect(() => simulate({ hosts: 0 }, 'dvms')).toThrow(SchedulerError);
    expect(() => parseRttCsv('id,a,b\na,1,2')).toThrowError(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('writes CSV traces, an SVG chart and a table', () => {
    const r = simulate({ ...small, durationS: 60, seed: 1 }, 'dvms');
    const csv = traceCsv(r.trace);
    expect(csv.split('\n')[0]).toBe('host,site,violation_s,migrations_in,migrations_out,cpu_demand,cpu_capacity,vms,alive');
    expect(csv.trim().split('\n')).toHaveLength(25);
    const svg = violationSvg([{ name: 'dvms', trace: r.trace }]);
    expect(svg).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
    expect(metricsTable([r.metrics])).toContain('violation_per_event_s');
    expect(r.timeline).toHaveLength(201);
    expect(r.timeline.at(-1)?.violation_s).toBeCloseTo(r.metrics.violation_s, 1);
    expect(timelineSvg([{ name: 'dvms', timeline: r.timeline }])).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
    // A logarithmic x axis spans the sizes given: the smallest at the left edge, the largest at the right.
    const sizes = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', logX: true, series: [{ name: 's', points: [[128, 1], [10240, 2]] }] });
    expect(sizes).toContain('points="80.0,');
    expect(sizes).toContain(' 730.0,');
  });
});
