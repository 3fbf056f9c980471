/**
 * Vivaldi evaluation over an RTT matrix:
 *   npm run vivaldi -- --matrix <csv> [--rounds r] [--neighbours k] [--seed s]
 * Prints one JSON object on stdout; progress goes to stderr.
 */
import { Command, InvalidArgumentError } from 'commander';
import { loadRttMatrix, zeroDiagonal } from '../mesh/rtt-matrix.js';
import { DEFAULT_SHORTLIST } from '../mesh/nearest.js';
import { DEFAULT_ROUNDS, DEFAULT_SEED, evaluateVivaldi } from '../mesh/vivaldi-evaluation.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('must be an integer');
  return n;
}

const program = new Command()
  .name('vivaldi')
  .description('Run the Vivaldi coordinates and nearest-node choice over an RTT matrix in simulation')
  .requiredOption('--matrix <csv>', 'RTT matrix (format of vendor/rtt/countries.csv)')
  .option('--rounds <r>', 'probe rounds (each node probes one peer per round)', positiveInt, DEFAULT_ROUNDS)
  .option('--neighbours <k>', 'restrict each node to a fixed random set of k peers', positiveInt)
  .option('--seed <s>', 'random seed', integer, DEFAULT_SEED)
  .option('--shortlist <k>', 'candidates the entry node measures', positiveInt, DEFAULT_SHORTLIST)
  .parse();

const opts = program.opts<{ matrix: string; rounds: number; neighbours?: number; seed: number; shortlist: number }>();
const matrix = loadRttMatrix(opts.matrix);
process.stderr.write(`vivaldi: ${matrix.ids.length} nodes, ${opts.rounds} rounds, seed ${opts.seed}\n`);
const step = Math.max(1, Math.floor(opts.rounds / 10));
const result = evaluateVivaldi(zeroDiagonal(matrix), {
  rounds: opts.rounds,
  seed: opts.seed,
  shortlist: opts.shortlist,
  ...(opts.neighbours !== undefined ? { neighbours: opts.neighbours } : {}),
  onProgress: (r, total) => {
    if (r % step === 0 || r === total) process.stderr.write(`vivaldi: round ${r}/${total}\n`);
  },
});
const { nodes, rounds, median_rel_error, p90_rel_error, nearest_hit_rate, stretch_mean } = result;
process.stdout.write(
  `${JSON.stringify({ nodes, rounds, median_rel_error, p90_rel_error, nearest_hit_rate, stretch_mean })}\n`,
);
process.stderr.write(
  `vivaldi: coordinate-only choice would give hit rate ${result.coordinate_only_hit_rate.toFixed(3)}, stretch ${result.coordinate_only_stretch_mean.toFixed(3)}\n`,
);
