/**
 * `npm run drain -- --node http://127.0.0.1:8081 [--token T] [--no-wait] [--timeout 600]`:
 * removes a node from the cloud. Its computes are migrated to other nodes, then it leaves the mesh
 * cleanly (docs/cloud.md, "Failures and drain"). Waits for the end and prints the progress on
 * stderr, the final status (JSON) on stdout; exits 1 when the drain failed or timed out.
 * The token is an admin token (or DISCOVERY_TOKEN); nodes started with `--auth none` need none.
 */
import { Command, InvalidArgumentError } from 'commander';

const TOKEN_ENV = 'DISCOVERY_TOKEN';
const NODE_PATH = '/.well-known/discovery/node';

interface Options {
  node: string;
  token?: string;
  wait: boolean;
  timeout: number;
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a number of seconds > 0');
  return n;
}

function fail(message: string): never {
  process.stderr.write(`drain: ${message}\n`);
  process.exit(1);
}

async function call(opts: Options, method: 'GET' | 'POST', query = ''): Promise<Record<string, unknown>> {
  const token = opts.token ?? process.env[TOKEN_ENV];
  const res = await fetch(new URL(`${NODE_PATH}${query}`, opts.node), {
    method,
    headers: { Accept: 'application/json', ...(token ? { 'X-Auth-Token': token } : {}) },
  }).catch((err: unknown) => fail(`cannot reach ${opts.node}: ${(err as Error).message}`));
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { message: text };
  }
  if (res.status >= 300) fail(`${method} ${NODE_PATH}${query}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

async function main(opts: Options): Promise<void> {
  const node = await call(opts, 'GET');
  const computes = (node['computes'] as unknown[] | undefined)?.length ?? 0;
  process.stderr.write(`draining ${String(node['name'])} (${computes} computes)\n`);
  let status = await call(opts, 'POST', '?action=drain');
  if (!opts.wait) {
    process.stdout.write(`${JSON.stringify(status)}\n`);
    return;
  }
  const deadline = Date.now() + opts.timeout * 1000;
  let last = '';
  while (status['state'] === 'draining' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    status = ((await call(opts, 'GET'))['drain'] ?? {}) as Record<string, unknown>;
    const line = `${String(status['state'])}: ${String(status['moved'])} moved, ${String(status['remaining'])} left`;
    if (line !== last) process.stderr.write(`${line}\n`);
    last = line;
  }
  process.stdout.write(`${JSON.stringify(status)}\n`);
  if (status['state'] !== 'left') fail(status['state'] === 'draining' ? `still draining after ${opts.timeout} s` : `drain failed: ${String(status['error'])}`);
}

const program = new Command('drain')
  .description('Remove a node from the cloud: its computes move to other nodes, then it leaves the mesh')
  .requiredOption('--node <url>', 'the node to drain')
  .option('--token <token>', `admin token (env ${TOKEN_ENV})`)
  .option('--no-wait', 'return once the drain started')
  .option('--timeout <s>', 'how long to wait for the end', seconds, 600)
  .action((opts: Options) => main(opts));

await program.parseAsync();
