/**
 * `npm run simulate -- --hosts H --vms V --duration S --seed K --scheduler dvms,entropy,snooze,centralized
 *   --monitoring 1 --topology vendor/rtt/countries.csv [--out DIR]`
 * One JSON line per scheduler on stdout; a progress bar per scheduler on stderr when both streams
 * are terminals; `--out DIR` writes per-host traces, the timelines and SVG charts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MultiBar, Presets } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { SchedulerError } from '../scheduler/errors.js';
import { metricsTable, timelineSvg, traceCsv, violationSvg } from '../scheduler/sim/report.js';
import { SCHEDULERS, SIM_DEFAULTS, simulate, type SchedulerName, type SimOptions, type SimResult } from '../scheduler/sim/simulate.js';

const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('not a number');
  return n;
};

/** Command-line flag → simulator option, with its help; defaults come from SIM_DEFAULTS. */
const NUMERIC_FLAGS: readonly [flag: string, option: keyof SimOptions, help: string][] = [
  ['--hosts <n>', 'hosts', 'number of hosts'],
  ['--vms <n>', 'vms', 'number of VMs'],
  ['--duration <s>', 'durationS', 'simulated seconds'],
  ['--seed <k>', 'seed', 'random seed'],
  ['--monitoring <s>', 'monitoringS', 'hosts sample and report every s seconds (0: at once)'],
  ['--host-cpu <pct>', 'hostCpu', 'host CPU capacity, % of a core'],
  ['--host-mem <mib>', 'hostMem', 'host memory, MiB'],
  ['--vm-cpu <pct>', 'vmCpu', 'VM CPU demand at 100 % load'],
  ['--vm-mem <mib>', 'vmMem', 'VM memory, MiB'],
  ['--load-mean <pct>', 'loadMean', 'mean load'],
  ['--load-sd <pct>', 'loadSd', 'load standard deviation'],
  ['--load-period <s>', 'loadPeriodS', 'λ = vms / period load changes per second'],
  ['--bandwidth <MBps>', 'bandwidthMBps', 'network bandwidth for migrations and messages, MB/s'],
  ['--dirty-rate <MBps>', 'dirtyRateMBps', 'memory a VM dirties per second at 100 % load, MB/s'],
  ['--max-downtime <ms>', 'maxDowntimeMs', 'pre-copy stops when the rest fits in this downtime'],
  ['--crashes <n>', 'crashes', 'host crashes to inject'],
  ['--jitter <ms>', 'jitterMs', 'extra random delay per DVMS message'],
  ['--solve-budget <ms>', 'solveBudgetMs', 'DVMS solver budget per event'],
  ['--min-partition <n>', 'minPartitionSize', 'DVMS partitions grow to this size before they solve'],
  ['--entropy-period <s>', 'entropyPeriodS', 'entropy loop period'],
  ['--snooze-group <n>', 'snoozeGroupSize', 'hosts per snooze group manager'],
  ['--snooze-period <s>', 'snoozePeriodS', 'snooze group managers loop period'],
  ['--central-period <s>', 'centralPeriodS', 'centralized heuristic loop period'],
  ['--central-budget <ms>', 'centralBudgetMs', 'centralized heuristic solver budget'],
  ['--underload <fraction>', 'underload', 'DVMS underload threshold (0 = off)'],
  ['--headroom <fraction>', 'headroom', 'solver CPU headroom on touched nodes (dvms, centralized)'],
];

const camel = (flag: string): string => (flag.split(' ')[0] ?? '').replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** A bar per scheduler when stdout and stderr are terminals; nothing otherwise. */
function progressBars(names: readonly string[]): { track(name: string): (f: number) => void; stop(): void } {
  if (!process.stderr.isTTY || !process.stdout.isTTY) return { track: () => () => undefined, stop: () => undefined };
  const bars = new MultiBar({ format: '{name} [{bar}] {percentage}% simulated | {duration_formatted}', hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
  const width = Math.max(...names.map((n) => n.length));
  return {
    track(name) {
      const bar = bars.create(100, 0, { name: name.padEnd(width) });
      return (f) => bar.update(Math.round(f * 100));
    },
    stop: () => bars.stop(),
  };
}

export function main(argv: string[]): void {
  const program = new Command().name('simulate').description('Simulate DVMS and the baseline schedulers on the same infrastructure, loads and network');
  for (const [flag, option, help] of NUMERIC_FLAGS) program.option(flag, help, num, SIM_DEFAULTS[option] as number);
  program
    .option('--scheduler <names>', `comma list of ${SCHEDULERS.join(', ')}`, 'dvms')
    .option('--topology <random|csv>', 'random plane, or an RTT matrix CSV whose sites the hosts spread over', SIM_DEFAULTS.topology)
    .option('--manager-site <id>', 'site of the central manager and group leader (default: nearest every host)', SIM_DEFAULTS.managerSite)
    .option('--solve-time <wall|model>', 'charge real solver time or a deterministic model', SIM_DEFAULTS.solveTime)
    .option('--out <dir>', 'write traces, timelines and SVG charts')
    .option('--table', 'also print a table on stderr', false);
  program.parse(argv);
  const o = program.opts<Record<string, string | number | boolean | undefined>>();
  const names = String(o.scheduler).split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!(SCHEDULERS as readonly string[]).includes(n)) throw SchedulerError.INVALID_OPTION(`unknown scheduler ${n}`);
  if (o.solveTime !== 'wall' && o.solveTime !== 'model') throw SchedulerError.INVALID_OPTION('--solve-time must be wall or model');
  const options: Partial<SimOptions> = {
    topology: String(o.topology),
    managerSite: String(o.managerSite),
    solveTime: o.solveTime,
    ...Object.fromEntries(NUMERIC_FLAGS.map(([flag, option]) => [option, Number(o[camel(flag)])])),
  };
  const bars = progressBars(names);
  const results: { name: SchedulerName; result: SimResult }[] = [];
  try {
    for (const name of names as SchedulerName[]) {
      const result = simulate(options, name, bars.track(name));
      results.push({ name, result });
      process.stdout.write(`${JSON.stringify(result.metrics)}\n`);
    }
  } finally {
    bars.stop();
  }
  if (typeof o.out === 'string') {
    mkdirSync(o.out, { recursive: true });
    for (const r of results) {
      writeFileSync(join(o.out, `trace-${r.name}.csv`), traceCsv(r.result.trace));
      writeFileSync(join(o.out, `timeline-${r.name}.svg`), timelineSvg([{ name: r.name, timeline: r.result.timeline }]));
    }
    writeFileSync(join(o.out, 'violation-over-time.svg'), timelineSvg(results.map((r) => ({ name: r.name, timeline: r.result.timeline }))));
    writeFileSync(join(o.out, 'violation-per-host.svg'), violationSvg(results.map((r) => ({ name: r.name, trace: r.result.trace }))));
    writeFileSync(join(o.out, 'metrics.json'), `${JSON.stringify(results.map((r) => ({ ...r.result.metrics, details: r.result.details, timeline: r.result.timeline })), null, 2)}\n`);
  }
  if (o.table) process.stderr.write(`${metricsTable(results.map((r) => r.result.metrics))}\n`);
}

try {
  main(process.argv);
} catch (err) {
  process.stderr.write(`simulate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = err instanceof SchedulerError && err.code === 'INVALID_OPTION' ? 2 : 1;
}
