import { describe, expect, it } from 'vitest';
import { SchedulerError } from '../../src/scheduler/errors.js';
import { metricsTable, traceCsv, violationSvg } from '../../src/scheduler/sim/report.js';
import { simulate, type SimMetrics } from '../../src/scheduler/sim/simulate.js';
import { parseRttCsv } from '../../src/scheduler/sim/topology.js';
import { EventQueue } from '../../src/scheduler/sim/event-queue.js';
import { COUNTRIES_RTT_MATRIX } from '../../src/mesh/rtt-matrix.js';

const small = { hosts: 24, vms: 240, durationS: 300, solveTime: 'model' as const };
const withoutWall = (m: SimMetrics): Omit<SimMetrics, 'wall_s'> => {
  const { wall_s: _w, ...rest } = m;
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

  it('every scheduler beats doing nothing on violation time', () => {
    const none = simulate({ ...small, seed: 1 }, 'none').metrics;
    expect(none.violation_s).toBeGreaterThan(0);
    expect(none.events).toBe(0);
    for (const s of ['dvms', 'dvms-ring', 'centralized'] as const) {
      const m = simulate({ ...small, seed: 1 }, s).metrics;
      expect(m.violation_s).toBeLessThan(none.violation_s);
      expect(m.migrations).toBeGreaterThan(0);
      expect(m.partition_max).toBeLessThanOrEqual(24);
    }
  });

  it('restarts the VMs of crashed hosts (dvms and centralized)', () => {
    for (const s of ['dvms', 'centralized'] as const) {
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
    expect(metricsTable([r.metrics])).toContain('violation_per_host_s');
  });
});
