/**
 * `npm run bench:http`: requests/s for GET of one compute (OCCI JSON) through the node, and for
 * a bare express handler answering the same bytes, in one run, with their ratio (goal ≥ 0.5).
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { terminalProgress } from '../src/cli/progress.js';

const DURATION_S = Number(process.env['BENCH_DURATION'] ?? 8);
const CONNECTIONS = 16;
const ROUNDS = 2;

const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const servers = spawn(tsx, [fileURLToPath(new URL('./http-servers.ts', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
const [line] = await createInterface({ input: servers.stdout! })[Symbol.asyncIterator]().next().then((r) => [r.value as string]);
const urls = JSON.parse(line!) as { occi: string; bare: string };

const progress = terminalProgress('bench:http');
const runs = progress.bar('runs', 2 + 2 * ROUNDS);

async function measure(name: string, url: string): Promise<number> {
  runs.advance(`${name}: ${DURATION_S} s, ${CONNECTIONS} connections`);
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, headers: { accept: 'application/occi+json' } });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  progress.log(`  ${name}: ${Math.round(result.requests.average)} req/s`);
  return result.requests.average;
}

progress.log('warming up');
runs.set(0, 'warm-up');
await autocannon({ url: urls.occi, connections: CONNECTIONS, duration: 2 });
runs.advance('warm-up');
await autocannon({ url: urls.bare, connections: CONNECTIONS, duration: 2 });
// Alternate the two so that drift of the machine affects both alike; keep each one's best round.
const best = { occi: 0, bare: 0 };
for (let round = 1; round <= ROUNDS; round++) {
  progress.log(`round ${round}/${ROUNDS}`);
  best.bare = Math.max(best.bare, await measure('bare express', urls.bare));
  best.occi = Math.max(best.occi, await measure('OCCI GET compute', urls.occi));
}
runs.advance();
progress.stop();
servers.stdin!.end();

const ratio = best.occi / best.bare;
console.log(JSON.stringify({ occi_get_compute_rps: Math.round(best.occi), bare_express_rps: Math.round(best.bare), ratio: Number(ratio.toFixed(3)), goal: 0.5 }));
