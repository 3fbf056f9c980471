/**
 * `npm start -- …`: one node of the gateway. Secrets never go on the command line, where `ps`
 * shows them: the cluster secret comes from a file (`--cluster-secret-file`) or the environment
 * (`DISCOVERY_CLUSTER_SECRET`), the issuer key from a file. Everything the node writes is private
 * to its user (umask 077; the data directory 0700).
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { hostname } from 'node:os';
import { pino } from 'pino';
import { loadImageCatalogue } from '../occi/templates.js';
import { startNode } from '../node.js';
import { parseOrigins } from '../http/cors.js';
import { faultHooksFromEnv } from './fault-hooks.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is an integer from 0 to 65535');
  return n;
}

function capacity(value: string): { cores: number; memoryMiB: number } {
  const [cores, memoryMiB] = value.split(',').map(Number);
  if (!Number.isFinite(cores) || !Number.isFinite(memoryMiB) || cores! <= 0 || memoryMiB! <= 0) throw new InvalidArgumentError('capacity is <cores>,<MiB>, e.g. 4,8192');
  return { cores: cores!, memoryMiB: memoryMiB! };
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number ≥ 0');
  return n;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

function membershipMode(value: string): 'full' | 'overlay' {
  if (value !== 'full' && value !== 'overlay') throw new InvalidArgumentError('membership is full or overlay');
  return value;
}

const env = (name: string) => process.env[name];

const program = new Command()
  .name('discovery-node')
  .description('Start one node of the DISCOVERY OCCI gateway')
  .option('-p, --port <port>', 'HTTP port (env PORT)', port, process.env['PORT'] ? port(process.env['PORT']) : 8080)
  .option('--host <address>', 'address to listen on (env HOST)', process.env['HOST'] ?? '127.0.0.1')
  .option('-d, --data-dir <dir>', 'data directory (env DATA_DIR)', process.env['DATA_DIR'] ?? './data')
  .option('--hypervisor <uri>', 'libvirt URI (test:///default, qemu:///system…) or sim (env HYPERVISOR); default: libvirt test:///default when libvirt0 is installed, else sim', process.env['HYPERVISOR'])
  .option('--images <file>', 'image catalogue: JSON array of {term, title, image, format} (env IMAGES)', process.env['IMAGES'])
  .option('--log-level <level>', 'pino log level (env LOG_LEVEL)', process.env['LOG_LEVEL'] ?? 'info')
  .option('--name <name>', 'name of this node (env NODE_NAME)', process.env['NODE_NAME'] ?? hostname())
  .option('--cluster-secret-file <file>', 'join the mesh of the nodes that share the secret in this file (or env DISCOVERY_CLUSTER_SECRET)', env('DISCOVERY_CLUSTER_SECRET_FILE'))
  .addOption(new Option('--cluster-secret <secret>').hideHelp())
  .option('--issuer-key <file>', 'private JWK this node signs tokens with (npm run token -- keygen; env DISCOVERY_ISSUER_KEY)', env('DISCOVERY_ISSUER_KEY'))
  .option('--token-keys <file>', "JWKS of the issuers' public keys, re-read when it changes (env DISCOVERY_TOKEN_KEYS)", env('DISCOVERY_TOKEN_KEYS'))
  .option('--public-url <url>', 'the URL clients reach this node at: absolute URIs and Location use it, never the Host header (env PUBLIC_URL)', env('PUBLIC_URL'))
  .option('--bootstrap <host:port,…>', 'DHT bootstrap nodes of the mesh, required with a cluster secret (env BOOTSTRAP)', process.env['BOOTSTRAP'])
  .option('--membership <full|overlay>', 'mesh membership: full (every member linked to every other) or overlay (bounded partial views and the ring directory; env MESH_MEMBERSHIP)', membershipMode, env('MESH_MEMBERSHIP') ? membershipMode(env('MESH_MEMBERSHIP')!) : 'full')
  .option('--site <id>', 'site of this node, e.g. a country code of the RTT matrix (env SITE)', process.env['SITE'])
  .option('--capacity <cores,MiB>', 'host capacity the scheduler may fill, e.g. 4,8192 (env CAPACITY); default: what the hypervisor reports', capacity, process.env['CAPACITY'] ? capacity(process.env['CAPACITY']) : undefined)
  .addOption(new Option('--auth <mode>', 'token: every request needs a token (the first start prints an admin token); none: no authentication, local trials only (env AUTH)').choices(['token', 'none']).default(process.env['AUTH'] ?? 'token'))
  .option('--tls-cert <file>', 'PEM certificate (chain): serve HTTPS only, with HSTS (env TLS_CERT)', env('TLS_CERT'))
  .option('--tls-key <file>', 'PEM private key of --tls-cert (env TLS_KEY)', env('TLS_KEY'))
  .option('--rate-limit <per-second>', 'requests per second per token (per client address without one); 0: off (env RATE_LIMIT)', count, env('RATE_LIMIT') ? count(env('RATE_LIMIT')!) : 50)
  .option('--rate-burst <requests>', 'requests a token may send at once (env RATE_BURST)', count, env('RATE_BURST') ? count(env('RATE_BURST')!) : 100)
  .option('--max-connections-per-address <n>', 'open connections per client address; 0: no cap (env MAX_CONNECTIONS_PER_ADDRESS)', count, env('MAX_CONNECTIONS_PER_ADDRESS') ? count(env('MAX_CONNECTIONS_PER_ADDRESS')!) : 64)
  .option('--headers-timeout <s>', 'time a client has to send its request headers (env HEADERS_TIMEOUT)', seconds, env('HEADERS_TIMEOUT') ? seconds(env('HEADERS_TIMEOUT')!) : 10)
  .option('--request-timeout <s>', 'time a client has to send its whole request (env REQUEST_TIMEOUT)', seconds, env('REQUEST_TIMEOUT') ? seconds(env('REQUEST_TIMEOUT')!) : 30)
  .option('--rtt <matrix.csv>', 'delay mesh messages by half the RTT between sites (local clusters only; env RTT_MATRIX)', process.env['RTT_MATRIX'])
  .option('--cors-origin <origin,…>', 'origins of portals that may call this node from a browser, e.g. https://portal.example.org (env CORS_ORIGIN); none by default', parseOrigins, env('CORS_ORIGIN') ? parseOrigins(env('CORS_ORIGIN')!) : [])
  .option('--metrics-port <port>', 'serve /metrics without a token on a listener of its own (env METRICS_PORT); without it, /metrics needs an admin token', port, env('METRICS_PORT') ? port(env('METRICS_PORT')!) : undefined)
  .option('--metrics-host <address>', 'address of the --metrics-port listener: a private interface, never a public one (env METRICS_HOST)', env('METRICS_HOST') ?? '127.0.0.1');

program.parse();
const opts = program.opts<{
  port: number;
  host: string;
  dataDir: string;
  hypervisor?: string;
  images?: string;
  logLevel: string;
  name: string;
  clusterSecretFile?: string;
  clusterSecret?: string;
  issuerKey?: string;
  tokenKeys?: string;
  publicUrl?: string;
  bootstrap?: string;
  site?: string;
  membership: 'full' | 'overlay';
  rtt?: string;
  corsOrigin: string[];
  metricsPort?: number;
  metricsHost: string;
  tlsCert?: string;
  tlsKey?: string;
  rateLimit: number;
  rateBurst: number;
  maxConnectionsPerAddress: number;
  headersTimeout: number;
  requestTimeout: number;
  auth: 'token' | 'none';
  capacity?: { cores: number; memoryMiB: number };
}>();
const logger = pino({ level: opts.logLevel });
if (opts.clusterSecret !== undefined) program.error('--cluster-secret would show the secret in ps: put it in a file (--cluster-secret-file) or in DISCOVERY_CLUSTER_SECRET');
const clusterSecret = opts.clusterSecretFile ? readFileSync(opts.clusterSecretFile, 'utf8').trim() : env('DISCOVERY_CLUSTER_SECRET');
if (clusterSecret !== undefined && clusterSecret.length === 0) program.error('the cluster secret is empty');
if (clusterSecret && !opts.bootstrap) program.error('a cluster secret needs --bootstrap: a node never uses public bootstrap nodes');
// What the node writes (stores, logs, keys, console files) is its user's alone.
process.umask(0o077);

const faults = faultHooksFromEnv();
const node = await startNode({
  port: opts.port,
  host: opts.host,
  dataDir: opts.dataDir,
  hypervisor: opts.hypervisor,
  images: opts.images ? loadImageCatalogue(opts.images) : undefined,
  logger,
  name: opts.name,
  tlsCert: opts.tlsCert,
  tlsKey: opts.tlsKey,
  rateLimit: opts.rateLimit > 0 ? { ratePerSecond: opts.rateLimit, burst: Math.max(1, opts.rateBurst) } : false,
  limits: {
    connectionsPerAddress: opts.maxConnectionsPerAddress,
    headersTimeoutMs: Math.round(opts.headersTimeout * 1000),
    requestTimeoutMs: Math.round(opts.requestTimeout * 1000),
  },
  auth: opts.auth,
  corsOrigins: opts.corsOrigin,
  metricsPort: opts.metricsPort,
  metricsHost: opts.metricsHost,
  tokenKeys: { issuerKeyFile: opts.issuerKey, trustedKeysFile: opts.tokenKeys },
  publicUrl: opts.publicUrl,
  mesh: clusterSecret
    ? {
        secret: clusterSecret,
        bootstrap: opts.bootstrap!.split(',').map((b) => b.trim()),
        site: opts.site,
        membership: opts.membership,
        rttMatrix: opts.rtt,
        cloud: { capacity: opts.capacity },
        ...(faults ? { unreachable: (key: string) => faults.unreachable(key) } : {}),
      }
    : undefined,
}).catch((err: unknown) => {
  logger.fatal({ err }, `cannot start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'stopping');
    void node.close().then(() => process.exit(0));
  });
}
