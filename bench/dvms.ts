/**
 * `npm run bench:dvms`: 1,024 hosts / 10,240 VMs for 3,600 simulated seconds with every scheduler
 * in the same run, at two live-migration bandwidths (1 Gbit/s as in VMPlaceS, 10 Gbit/s), then the
 * goals: dvms violation ≤ 1/5 of centralized's, median event solved in < 1 s simulated.
 */
import { metricsTable } from '../src/scheduler/sim/report.js';
import { SCHEDULERS, simulate, type SimMetrics } from '../src/scheduler/sim/simulate.js';

const HOSTS = 1024;
const VMS = 10_240;
const DURATION_S = 3600;
const SEED = Number(process.env.SEED ?? 1);
const BANDWIDTHS_MBPS = [125, 1250];
const VIOLATION_RATIO_GOAL = 1 / 5;
const MEDIAN_SOLVE_GOAL_MS = 1000;

function run(bandwidthMBps: number): SimMetrics[] {
  return SCHEDULERS.map((name) => {
    let next = 0;
    const m = simulate({ hosts: HOSTS, vms: VMS, durationS: DURATION_S, seed: SEED, bandwidthMBps }, name, (f) => {
      if (f >= next) {
        process.stderr.write(`  ${name} @ ${bandwidthMBps} MB/s: ${(f * 100).toFixed(0)}%\n`);
        next = f + 0.25;
      }
    }).metrics;
    return m;
  });
}

const goals: string[] = [];
for (const bw of BANDWIDTHS_MBPS) {
  const rows = run(bw);
  process.stdout.write(`\n${HOSTS} hosts, ${VMS} VMs, ${DURATION_S} s, seed ${SEED}, migration bandwidth ${bw} MB/s (${(bw * 8) / 1000} Gbit/s)\n`);
  process.stdout.write(`${metricsTable(rows)}\n`);
  const dvms = rows.find((r) => r.scheduler === 'dvms');
  const central = rows.find((r) => r.scheduler === 'centralized');
  if (dvms && central) {
    const ratio = dvms.violation_s / Math.max(1e-9, central.violation_s);
    goals.push(`${bw} MB/s: dvms/centralized violation = ${ratio.toFixed(3)} (goal <= ${VIOLATION_RATIO_GOAL}) ${ratio <= VIOLATION_RATIO_GOAL ? 'MET' : 'NOT MET'}`);
    goals.push(`${bw} MB/s: dvms median event solve = ${dvms.solve_ms_p50} ms (goal < ${MEDIAN_SOLVE_GOAL_MS}) ${dvms.solve_ms_p50 < MEDIAN_SOLVE_GOAL_MS ? 'MET' : 'NOT MET'}`);
  }
}
process.stdout.write(`\n${goals.join('\n')}\n`);
