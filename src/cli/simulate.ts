/**
 * `npm run simulate -- --hosts N --vms M --duration s --scheduler dvms[,centralized,...] --seed k [--out dir]`
 * Progress on stderr (a bar on a terminal, periodic lines otherwise); one JSON object on stdout:
 * the metrics of the scheduler, or `{ "runs": [...] }` when several are compared.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { SchedulerError } from '../scheduler/errors.js';
import { metricsTable, traceCsv, violationSvg } from '../scheduler/sim/report.js';
import { SCHEDULERS, SIM_DEFAULTS, simulate, type SchedulerName, type SimResult } from '../scheduler/sim/simulate.js';

const PROGRESS_LINE_EVERY = 0.1;
const BAR_WIDTH = 30;

const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('not a number');
  return n;
};

function progress(name: string): (f: number) => void {
  const tty = process.stderr.isTTY === true;
  let nextLine = 0;
  const t0 = performance.now();
  return (f) => {
    const elapsed = ((performance.now() - t0) / 1000).toFixed(1);
    if (tty) {
      const filled = Math.round(f * BAR_WIDTH);
      process.stderr.write(`\r${name.padEnd(12)} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(f * 100).toFixed(0).padStart(3)}% ${elapsed}s`);
      if (f >= 1) process.stderr.write('\n');
    } else if (f >= nextLine || f >= 1) {
      process.stderr.write(`${name}: ${(f * 100).toFixed(0)}% simulated, ${elapsed}s wall\n`);
      nextLine = Math.min(1, f + PROGRESS_LINE_EVERY);
    }
  };
}

export function main(argv: string[]): void {
  const program = new Command()
    .name('simulate')
    .description('Simulate DVMS and baseline schedulers on a synthetic infrastructure')
    .option('--hosts <n>', 'number of hosts', num, SIM_DEFAULTS.hosts)
    .option('--vms <n>', 'number of VMs', num, SIM_DEFAULTS.vms)
    .option('--duration <s>', 'simulated seconds', num, SIM_DEFAULTS.durationS)
    .option('--scheduler <names>', `comma list of ${SCHEDULERS.join(', ')}`, 'dvms')
    .option('--seed <k>', 'random seed', num, SIM_DEFAULTS.seed)
    .option('--out <dir>', 'write per-host CSV traces and an SVG chart')
    .option('--host-cpu <pct>', 'host CPU capacity, % of a core', num, SIM_DEFAULTS.hostCpu)
    .option('--host-mem <mib>', 'host memory, MiB', num, SIM_DEFAULTS.hostMem)
    .option('--vm-cpu <pct>', 'VM CPU demand at 100 % load', num, SIM_DEFAULTS.vmCpu)
    .option('--vm-mem <mib>', 'VM memory, MiB', num, SIM_DEFAULTS.vmMem)
    .option('--load-mean <pct>', 'mean load', num, SIM_DEFAULTS.loadMean)
    .option('--load-sd <pct>', 'load standard deviation', num, SIM_DEFAULTS.loadSd)
    .option('--load-period <s>', 'λ = vms / period load changes per second', num, SIM_DEFAULTS.loadPeriodS)
    .option('--bandwidth <MBps>', 'migration bandwidth, MB/s', num, SIM_DEFAULTS.bandwidthMBps)
    .option('--crashes <n>', 'host crashes to inject', num, SIM_DEFAULTS.crashes)
    .option('--topology <random|csv>', 'random plane or an RTT matrix CSV', SIM_DEFAULTS.topology)
    .option('--jitter <ms>', 'extra random delay per message', num, SIM_DEFAULTS.jitterMs)
    .option('--solve-time <wall|model>', 'charge real solver time or a deterministic model', SIM_DEFAULTS.solveTime)
    .option('--solve-budget <ms>', 'DVMS solver budget per event', num, SIM_DEFAULTS.solveBudgetMs)
    .option('--central-period <s>', 'centralized loop period', num, SIM_DEFAULTS.centralPeriodS)
    .option('--central-budget <ms>', 'centralized solver budget', num, SIM_DEFAULTS.centralBudgetMs)
    .option('--underload <fraction>', 'DVMS underload threshold (0 = off)', num, SIM_DEFAULTS.underload)
    .option('--headroom <fraction>', 'solver CPU headroom on touched nodes', num, SIM_DEFAULTS.headroom)
    .option('--table', 'also print a table on stderr', false);
  program.parse(argv);
  const o = program.opts<Record<string, string | number | boolean | undefined>>();
  const names = String(o.scheduler).split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!(SCHEDULERS as readonly string[]).includes(n)) throw SchedulerError.INVALID_OPTION(`unknown scheduler ${n}`);
  if (o.solveTime !== 'wall' && o.solveTime !== 'model') throw SchedulerError.INVALID_OPTION('--solve-time must be wall or model');
  const options = {
    hosts: Number(o.hosts),
    vms: Number(o.vms),
    durationS: Number(o.duration),
    seed: Number(o.seed),
    hostCpu: Number(o.hostCpu),
    hostMem: Number(o.hostMem),
    vmCpu: Number(o.vmCpu),
    vmMem: Number(o.vmMem),
    loadMean: Number(o.loadMean),
    loadSd: Number(o.loadSd),
    loadPeriodS: Number(o.loadPeriod),
    bandwidthMBps: Number(o.bandwidth),
    crashes: Number(o.crashes),
    topology: String(o.topology),
    jitterMs: Number(o.jitter),
    solveTime: o.solveTime as 'wall' | 'model',
    solveBudgetMs: Number(o.solveBudget),
    centralPeriodS: Number(o.centralPeriod),
    centralBudgetMs: Number(o.centralBudget),
    underload: Number(o.underload),
    headroom: Number(o.headroom),
  };
  const results: { name: SchedulerName; result: SimResult }[] = [];
  for (const name of names as SchedulerName[]) results.push({ name, result: simulate(options, name, progress(name)) });
  if (typeof o.out === 'string') {
    mkdirSync(o.out, { recursive: true });
    for (const r of results) writeFileSync(join(o.out, `trace-${r.name}.csv`), traceCsv(r.result.trace));
    writeFileSync(join(o.out, 'violation-per-host.svg'), violationSvg(results.map((r) => ({ name: r.name, trace: r.result.trace }))));
    writeFileSync(join(o.out, 'metrics.json'), `${JSON.stringify(results.map((r) => ({ ...r.result.metrics, details: r.result.details })), null, 2)}\n`);
  }
  if (o.table) process.stderr.write(`${metricsTable(results.map((r) => r.result.metrics))}\n`);
  const metrics = results.map((r) => r.result.metrics);
  process.stdout.write(`${JSON.stringify(metrics.length === 1 ? metrics[0] : { runs: metrics })}\n`);
}

try {
  main(process.argv);
} catch (err) {
  process.stderr.write(`simulate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = err instanceof SchedulerError && err.code === 'INVALID_OPTION' ? 2 : 1;
}
