import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { loadImageCatalogue } from './occi/templates.js';
import { startNode } from './node.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is an integer from 0 to 65535');
  return n;
}

const program = new Command()
  .name('discovery-node')
  .description('Start one node of the DISCOVERY OCCI gateway')
  .option('-p, --port <port>', 'HTTP port (env PORT)', port, process.env['PORT'] ? port(process.env['PORT']) : 8080)
  .option('--host <address>', 'address to listen on (env HOST)', process.env['HOST'] ?? '127.0.0.1')
  .option('-d, --data-dir <dir>', 'data directory (env DATA_DIR)', process.env['DATA_DIR'] ?? './data')
  .option('--hypervisor <uri>', 'libvirt URI (test:///default, qemu:///system…) or sim (env HYPERVISOR); default: libvirt test:///default when libvirt0 is installed, else sim', process.env['HYPERVISOR'])
  .option('--images <file>', 'image catalogue: JSON array of {term, title, image, format} (env IMAGES)', process.env['IMAGES'])
  .option('--log-level <level>', 'pino log level (env LOG_LEVEL)', process.env['LOG_LEVEL'] ?? 'info');

program.parse();
const opts = program.opts<{ port: number; host: string; dataDir: string; hypervisor?: string; images?: string; logLevel: string }>();
const logger = pino({ level: opts.logLevel });

const node = await startNode({
  port: opts.port,
  host: opts.host,
  dataDir: opts.dataDir,
  hypervisor: opts.hypervisor,
  images: opts.images ? loadImageCatalogue(opts.images) : undefined,
  logger,
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
