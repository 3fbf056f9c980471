/**
 * `npm run bench:dvms`: dvms, entropy, snooze and centralized on 128, 512, 1,024 and 10,240 hosts
 * (10 VMs per host, the seed's load model, 1 s monitoring, hosts spread over the countries RTT
 * matrix), each run in its own process (`npm run simulate`, so that its wall time and peak memory
 * are its own). Writes the table, the goals and a plot of violation time against size into
 * docs/scheduler.md (between its bench markers) and docs/scheduler-bench.svg.
 * SIZES, DURATION_S and SEED in the environment change the runs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { terminalProgress } from '../src/cli/progress.js';
import { lineChart } from '../src/scheduler/sim/report.js';
import type { SimMetrics } from '../src/scheduler/sim/simulate.js';

const SIZES = (process.env.SIZES ?? '128,512,1024,10240').split(',').map(Number);
const SCHEDULERS = ['dvms', 'entropy', 'snooze', 'centralized'] as const;
const VMS_PER_HOST = 10;
const DURATION_S = Number(process.env.DURATION_S ?? 3600);
const SEED = Number(process.env.SEED ?? 1);
const TOPOLOGY = 'vendor/rtt/countries.csv';
const DOC = 'docs/scheduler.md';
const PLOT = 'docs/scheduler-bench.svg';
const START = '<!-- bench:dvms:start -->';
const END = '<!-- bench:dvms:end -->';
/** Goals: from this size up DVMS has the least violation, at most this share of Entropy's, within this factor of the migration floor. */
const GOAL_FROM_HOSTS = 1024;
const GOAL_ENTROPY_RATIO = 0.5;
const GOAL_FLOOR_RATIO = 1.5;

function run(hosts: number, scheduler: string): SimMetrics {
  const args = ['tsx', 'src/cli/simulate.ts', '--hosts', String(hosts), '--vms', String(hosts * VMS_PER_HOST), '--duration', String(DURATION_S),
    '--seed', String(SEED), '--scheduler', scheduler, '--monitoring', '1', '--topology', TOPOLOGY];
  const out = execFileSync('npx', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as SimMetrics;
}

const COLUMNS: readonly (keyof SimMetrics)[] = ['hosts', 'scheduler', 'events', 'violation_s', 'violation_per_event_s', 'migration_floor_s', 'floor_ratio',
  'solve_ms_p50', 'solve_ms_p99', 'partition_mean', 'migrations', 'unsolvable', 'wall_s', 'peak_rss_mib'];

const rows: SimMetrics[] = [];
const progress = terminalProgress('bench:dvms');
const runs = progress.bar('runs', SIZES.length * SCHEDULERS.length);
for (const hosts of SIZES) {
  for (const scheduler of SCHEDULERS) {
    progress.log(`${hosts} hosts, ${scheduler}...`);
    runs.set(rows.length, `${hosts} hosts, ${scheduler}`);
    const m = run(hosts, scheduler);
    progress.log(`  violation ${m.violation_s} s, floor ratio ${m.floor_ratio}, wall ${m.wall_s} s`);
    rows.push(m);
  }
}
runs.set(rows.length);
progress.stop();

const table = [`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${COLUMNS.map((c) => String(r[c])).join(' | ')} |`)].join('\n');
const at = (hosts: number, scheduler: string): SimMetrics | undefined => rows.find((r) => r.hosts === hosts && r.scheduler === scheduler);
const goals: string[] = [];
for (const hosts of SIZES.filter((h) => h >= GOAL_FROM_HOSTS)) {
  const dvms = at(hosts, 'dvms');
  const entropy = at(hosts, 'entropy');
  if (!dvms || !entropy) continue;
  const best = rows.filter((r) => r.hosts === hosts).reduce((a, b) => (b.violation_s < a.violation_s ? b : a));
  const ratio = dvms.violation_s / Math.max(1e-9, entropy.violation_s);
  const verdict = (ok: boolean): string => (ok ? '**met**' : '**not met**');
  goals.push(`- ${hosts} hosts: lowest violation: ${best.scheduler} (${best.violation_s} s) ${verdict(best.scheduler === 'dvms')}; ` +
    `dvms / entropy = ${ratio.toFixed(3)} (goal ≤ ${GOAL_ENTROPY_RATIO}) ${verdict(ratio <= GOAL_ENTROPY_RATIO)}; ` +
    `dvms violation / migration floor = ${dvms.floor_ratio} (goal ≤ ${GOAL_FLOOR_RATIO}) ${verdict(dvms.floor_ratio <= GOAL_FLOOR_RATIO)}; ` +
    // What no reactive scheduler gets under: its own migration floor (each episode ended by its shortest migration at once).
    `dvms's own floor / entropy's violation = ${(dvms.migration_floor_s / Math.max(1e-9, entropy.violation_s)).toFixed(3)}, ` +
    `entropy's floor / its violation = ${(entropy.migration_floor_s / Math.max(1e-9, entropy.violation_s)).toFixed(3)}`);
}

const svg = lineChart({
  title: `Violation time against size (${VMS_PER_HOST} VMs per host, ${DURATION_S} s, 1 s monitoring, countries RTT matrix, seed ${SEED})`,
  xLabel: 'hosts (log scale)',
  // Per host, so that every size reads on one linear axis.
  yLabel: 'violation time per host (s)',
  logX: true,
  xTicks: SIZES,
  series: SCHEDULERS.map((s) => ({ name: s, points: SIZES.flatMap((h) => { const m = at(h, s); return m ? [[h, m.violation_per_host_s] as const] : []; }) })),
});
writeFileSync(PLOT, svg);

const section = [
  START,
  `\`npm run bench:dvms\` (seed ${SEED}, ${DURATION_S} s simulated, ${new Date().toISOString().slice(0, 10)}):`,
  '',
  table,
  '',
  `![violation time per host against size](${PLOT.replace('docs/', '')})`,
  '',
  'Goals:',
  '',
  ...goals,
  END,
].join('\n');
const doc = readFileSync(DOC, 'utf8');
const from = doc.indexOf(START);
const to = doc.indexOf(END);
writeFileSync(DOC, from >= 0 && to > from ? `${doc.slice(0, from)}${section}${doc.slice(to + END.length)}` : `${doc.trimEnd()}\n\n${section}\n`);
process.stdout.write(`${table}\n\n${goals.join('\n')}\n`);
