/**
 * `npm run simulate:mesh -- --nodes N --duration S --loss P --churn R --seed K`: the production
 * overlay (membership, failure detection, views, directory) over a simulated network at the
 * countries of the RTT matrix; one JSON line of figures on stdout, a progress bar on a terminal.
 */
import { SingleBar, Presets } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { LAN_OVERLAY, WAN_OVERLAY } from '../mesh/overlay/config.js';
import { MESH_SIM_DEFAULTS, type MeshSimOptions } from '../mesh/sim/options.js';
import { simulateMesh } from '../mesh/sim/scenario.js';

const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('not a non-negative number');
  return n;
};

const FLAGS: readonly [flag: string, option: keyof MeshSimOptions, help: string][] = [
  ['--nodes <n>', 'nodes', 'mesh nodes'],
  ['--duration <s>', 'durationS', 'simulated seconds measured (after the warm-up)'],
  ['--warmup <s>', 'warmupS', 'simulated seconds before measuring'],
  ['--loss <p>', 'loss', 'probability that a packet is lost on a link (resent after the retransmission timeout)'],
  ['--churn <r>', 'churn', 'fraction of the nodes crashing (and replaced) per minute'],
  ['--seed <k>', 'seed', 'random seed'],
  ['--jitter <j>', 'jitter', 'relative jitter of one-way delays'],
  ['--entities <n>', 'entitiesPerNode', 'directory records each node publishes'],
  ['--lookups <r>', 'lookupRate', 'lookups per node per second'],
];

const program = new Command().name('simulate:mesh').description('Simulate the mesh overlay at scale over the countries RTT matrix');
for (const [flag, option, help] of FLAGS) program.option(flag, help, num, MESH_SIM_DEFAULTS[option] as number);
program.option('--matrix <csv>', 'RTT matrix whose countries the nodes are placed at', MESH_SIM_DEFAULTS.matrix);
program.option('--profile <lan|wan>', 'overlay defaults', 'wan');
program.option('--max-known <n>', 'members each node keeps in its table (default: the profile\'s)', num);
program.option('--trace', 'one line per failed lookup and per false death on stderr', false);
program.parse();
const flags = program.opts<Record<string, number | string | boolean>>();
const options = { ...MESH_SIM_DEFAULTS } as MeshSimOptions;
for (const [flag, option] of FLAGS) (options as unknown as Record<string, number>)[option] = flags[flag.slice(2).split(' ')[0]!] as number;
options.matrix = String(flags.matrix);
options.trace = flags.trace === true;
if (flags.maxKnown !== undefined) options.maxKnownMembers = Number(flags.maxKnown);
const bar = process.stderr.isTTY && process.stdout.isTTY ? new SingleBar({ format: 'mesh [{bar}] {percentage}% simulated | {duration_formatted}' }, Presets.shades_classic) : null;
bar?.start(100, 0);
const result = simulateMesh(options, (f) => bar?.update(Math.round(f * 100)), flags.profile === 'lan' ? LAN_OVERLAY : WAN_OVERLAY);
bar?.stop();
process.stdout.write(`${JSON.stringify(result)}\n`);
