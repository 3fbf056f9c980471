/**
 * define+start+destroy+undefine cycles per second on libvirt's test driver,
 * through the driver and through direct koffi binding calls, in the same run.
 * Each call mode is measured both ways; the event-loop delay seen meanwhile is
 * reported too. Then real guests (hypervisor-guests.ts: boot, create through OCCI,
 * live migration), unless --no-guests. Results on stdout; progress on stderr (a bar of the
 * phases on a terminal, plain lines without one).
 * Bounded: 3 rounds × 4 phases × PHASE_MS (+ warm-up), and for guests
 * (2 × rounds + 2 × migration rounds) boots.
 *
 *   npm run bench:hypervisor [-- --phase-ms 1000 --uri test:///default --guest-rounds 3 --migration-rounds 3 --no-guests]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { DomainSpec } from '../src/hypervisor/hypervisor.js';
import type { DomPtr } from '../src/hypervisor/libvirt/binding.js';
import { isInProcessUri, LibvirtConnection } from '../src/hypervisor/libvirt/connection.js';
import { domainXml } from '../src/hypervisor/libvirt/domain-xml.js';
import { LibvirtHypervisor } from '../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { terminalProgress, type ProgressBar } from '../src/cli/progress.js';
import { benchGuests, type GuestRow } from './hypervisor-guests.js';

const DEFAULT_PHASE_MS = 1000;
const DEFAULT_URI = 'test:///default';
const WARMUP_CYCLES = 200;
const ROUNDS = 3;
const GOAL_RATIO = 0.8;
/** Real guests: the product against raw libvirt calls, raw time / product time. */
const GUEST_GOAL_RATIO = 0.9;

const { values } = parseArgs({
  options: {
    'phase-ms': { type: 'string' },
    uri: { type: 'string' },
    'guest-rounds': { type: 'string' },
    'migration-rounds': { type: 'string' },
    'no-guests': { type: 'boolean' },
  },
});
const phaseMs = Number(values['phase-ms'] ?? DEFAULT_PHASE_MS);
const uri = values.uri ?? DEFAULT_URI;
const progress = terminalProgress('bench:hypervisor');

let serial = 0;
function nextSpec(): DomainSpec {
  serial += 1;
  return {
    id: `b0000000-0000-4000-8000-${String(serial).padStart(12, '0')}`,
    name: `bench-${serial}`,
    cores: 2,
    memoryMiB: 512,
    nics: [],
    disks: [],
  };
}

type Cycle = () => Promise<void>;

function promisify(conn: LibvirtConnection, name: Parameters<LibvirtConnection['call']>[0]) {
  const f = conn.binding.fn[name];
  return (...args: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) => f.async(...args, (err: unknown, r: unknown) => (err ? reject(err) : resolve(r))));
}

/** The same four libvirt calls the driver makes at its core, with nothing around them. */
function rawCycle(conn: LibvirtConnection, mode: 'sync' | 'async'): Cycle {
  const { fn } = conn.binding;
  const ptr = conn.ptr;
  const ctx = { domainType: 'test', pool: 'default-pool' };
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new Error(`${what} failed`);
  };
  if (mode === 'sync') {
    return async () => {
      const dom = fn.virDomainDefineXML(ptr, domainXml(nextSpec(), ctx)) as DomPtr | null;
      check(dom !== null, 'define');
      check(fn.virDomainCreate(dom) === 0, 'create');
      check(fn.virDomainDestroy(dom) === 0, 'destroy');
      check(fn.virDomainUndefineFlags(dom, 0) === 0, 'undefine');
      fn.virDomainFree(dom);
    };
  }
  const define = promisify(conn, 'virDomainDefineXML');
  const create = promisify(conn, 'virDomainCreate');
  const destroy = promisify(conn, 'virDomainDestroy');
  const undefine = promisify(conn, 'virDomainUndefineFlags');
  return async () => {
    const dom = (await define(ptr, domainXml(nextSpec(), ctx))) as DomPtr | null;
    check(dom !== null, 'define');
    check((await create(dom)) === 0, 'create');
    check((await destroy(dom)) === 0, 'destroy');
    check((await undefine(dom, 0)) === 0, 'undefine');
    fn.virDomainFree(dom);
  };
}

function driverCycle(hv: LibvirtHypervisor): Cycle {
  return async () => {
    const spec = nextSpec();
    await hv.defineDomain(spec);
    await hv.startDomain(spec.id);
    await hv.stopDomain(spec.id, 'poweroff');
    await hv.undefineDomain(spec.id);
  };
}

interface Result {
  cyclesPerSec: number;
  cycles: number;
  /** Longest cycle: in sync mode, the longest the event loop was held. */
  maxCycleMs: number;
  /** Longest event-loop delay observed by a timer during the phase (only meaningful when calls yield). */
  maxLoopDelayMs: number;
}

/** One phase: `done` phases before it on `bar`, which shows its cycles as they run. */
async function measure(label: string, cycle: Cycle, bar: ProgressBar, done: number): Promise<Result> {
  bar.set(done, `${label}: warm-up`);
  for (let i = 0; i < WARMUP_CYCLES; i++) await cycle();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const start = performance.now();
  let cycles = 0;
  let lastReport = start;
  let maxCycleMs = 0;
  while (performance.now() - start < phaseMs) {
    const t0 = performance.now();
    await cycle();
    maxCycleMs = Math.max(maxCycleMs, performance.now() - t0);
    cycles += 1;
    if (performance.now() - lastReport > 500) {
      lastReport = performance.now();
      bar.set(done, `${label}: ${cycles} cycles`);
    }
  }
  const elapsed = (performance.now() - start) / 1000;
  loop.disable();
  progress.log(`${label}: ${cycles} cycles in ${elapsed.toFixed(2)} s`);
  bar.set(done + 1);
  return { cyclesPerSec: cycles / elapsed, cycles, maxCycleMs, maxLoopDelayMs: loop.count === 0 ? Number.NaN : loop.max / 1e6 };
}

function combine(results: Result[]): Result {
  const cycles = results.reduce((n, r) => n + r.cycles, 0);
  const seconds = results.reduce((n, r) => n + r.cycles / r.cyclesPerSec, 0);
  return {
    cycles,
    cyclesPerSec: cycles / seconds,
    maxCycleMs: Math.max(...results.map((r) => r.maxCycleMs)),
    maxLoopDelayMs: Math.max(...results.map((r) => r.maxLoopDelayMs)),
  };
}

async function main(): Promise<void> {
  progress.log(`on ${uri}, ${phaseMs} ms per phase`);
  const modes = ['sync', 'async'] as const;
  const phases = progress.bar('phases', modes.length * ROUNDS * 2);
  let done = 0;
  const rows: [string, Result][] = [];
  const ratios: [string, number][] = [];
  for (const mode of modes) {
    const conn = await LibvirtConnection.open(uri, { callMode: mode });
    const hv = await LibvirtHypervisor.open(uri, { callMode: mode });
    const direct: Result[] = [];
    const driver: Result[] = [];
    // Alternating rounds, so a load spike on the machine hits both sides alike.
    for (let round = 1; round <= ROUNDS; round++) {
      direct.push(await measure(`direct ${mode} #${round}`, rawCycle(conn, mode), phases, done++));
      driver.push(await measure(`driver ${mode} #${round}`, driverCycle(hv), phases, done++));
    }
    const d = combine(direct);
    const v = combine(driver);
    rows.push([`direct binding (${mode} calls)`, d], [`driver (${mode} calls)`, v]);
    ratios.push([mode, v.cyclesPerSec / d.cyclesPerSec]);
    await hv.close();
    await conn.close();
  }
  progress.stop();
  console.log(`hypervisor bench: define+start+destroy+undefine on ${uri}`);
  for (const [label, r] of rows) {
    console.log(
      `  ${label.padEnd(30)} ${r.cyclesPerSec.toFixed(0).padStart(7)} cycles/s  (${r.cycles} cycles, longest cycle ${r.maxCycleMs.toFixed(2)} ms, event-loop delay max ${Number.isNaN(r.maxLoopDelayMs) ? 'n/a: loop never yielded' : `${r.maxLoopDelayMs.toFixed(1)} ms`})`,
    );
  }
  for (const [mode, ratio] of ratios) {
    console.log(`  ratio driver/direct, ${mode} calls: ${ratio.toFixed(2)} (goal >= ${GOAL_RATIO}) ${ratio >= GOAL_RATIO ? 'ok' : 'below goal'}`);
  }
  console.log(`  the driver's default on ${uri}: ${isInProcessUri(uri) ? 'sync' : 'async'} calls`);
  if (values['no-guests']) return;
  const guests = await benchGuests({
    rounds: Number(values['guest-rounds'] ?? 3),
    migrationRounds: Number(values['migration-rounds'] ?? 3),
    progress: (line) => progress.log(`guests: ${line}`),
  });
  printGuests(guests.rows, guests.accelerator);
}

function printGuests(rows: GuestRow[], accelerator: string): void {
  const ms = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? 'n/a' : `${x.toFixed(0)} ms`);
  console.log(`real guests on two private libvirt daemons (${accelerator}); medians; ratio = raw / product (goal >= ${GUEST_GOAL_RATIO})`);
  for (const r of rows) {
    const ratio = r.rawMs / r.productMs;
    const downtime = r.productDowntimeMs === undefined ? '' : `; downtime product ${ms(r.productDowntimeMs)}, raw ${ms(r.rawDowntimeMs)}`;
    console.log(`  ${r.operation.padEnd(32)} product ${ms(r.productMs).padStart(9)}  raw ${ms(r.rawMs).padStart(9)}  ratio ${ratio.toFixed(2)} ${ratio >= GUEST_GOAL_RATIO ? 'ok' : 'below goal'}${downtime}`);
  }
}

await main();
