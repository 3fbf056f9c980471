/**
 * `npm run token -- …`: issuer keys, tokens issued offline, and the tokens, keys and quotas of a
 * running node. The admin token of `--node` comes from the environment (`DISCOVERY_TOKEN`) or a
 * file (`--token-file`, `-` for stdin), never from the command line, where `ps` would show it.
 *
 *   keygen --out issuer.jwk [--jwks trusted.json]
 *       a new Ed25519 issuer key (mode 0600); its public key is added to the JWKS file that every
 *       member trusts (`--token-keys`); the kid is printed;
 *   create --tenant acme [--admin] [--expires 30d] (--issuer-key F | --data-dir D)
 *       signs a token offline with an issuer key (F, or the key of the standalone node of D),
 *       recording its metadata in D when given;
 *   create --tenant acme [--admin] [--expires 30d] --node URL   (issued by that node)
 *   list | revoke <tid> | keys | revoke-key <kid>   --node URL   (revocations: every member)
 *   quota <tenant> [--instances N] [--cores N] [--memory GiB] [--storage GiB] [--unlimited] --node URL
 *       (limits not given are kept; none given: shows the quota and the mesh-wide usage)
 * The token is printed alone on stdout; everything else goes to stderr.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newClaims, parseDuration, publicJwk, signToken, TENANT_PATTERN } from '../http/auth/token.js';
import { readIssuerKey, STANDALONE_KEY_FILE, writeIssuerKey } from '../http/auth/token-keys.js';
import { TokenStore } from '../http/auth/token-store.js';

const TOKEN_ENV = 'DISCOVERY_TOKEN';

function duration(v: string): number {
  try {
    return parseDuration(v);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function amount(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('a number ≥ 0');
  return n;
}

function tenant(v: string): string {
  if (!TENANT_PATTERN.test(v)) throw new InvalidArgumentError('letters, digits, _ . - (up to 63, starting with a letter or digit)');
  return v;
}

interface Remote {
  node?: string;
  tokenFile?: string;
  token?: string;
}

/** The admin token: from --token-file (`-`: stdin) or the environment. */
function adminToken(opts: Remote): string {
  if (opts.token !== undefined) fail(`the admin token does not go on the command line (ps shows it): set ${TOKEN_ENV} or give --token-file`);
  const token = opts.tokenFile ? readFileSync(opts.tokenFile === '-' ? 0 : opts.tokenFile, 'utf8').trim() : process.env[TOKEN_ENV];
  if (!token) fail(`an admin token is required: set ${TOKEN_ENV} or give --token-file <file>`);
  return token;
}

async function remote(opts: Remote, method: string, path: string, body?: unknown): Promise<unknown> {
  if (!opts.node) fail('--node <url> is required');
  const token = adminToken(opts);
  const res = await fetch(new URL(path, opts.node), {
    method,
    headers: { 'X-Auth-Token': token, Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((err: unknown) => fail(`cannot reach ${opts.node}: ${(err as Error).message}`));
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  if (!res.ok) fail(`${res.status}: ${(json as { error?: { message?: string } })?.error?.message ?? text}`);
  return json;
}

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(1);
}

const program = new Command().name('token').description('Issuer keys; issue, list and revoke tokens; set tenant quotas').showHelpAfterError();
const withRemote = (c: Command) =>
  c
    .option('--node <url>', 'a running node, e.g. http://127.0.0.1:8080')
    .option('--token-file <file>', `a file holding an admin token, - for stdin (or env ${TOKEN_ENV})`)
    .addOption(new Option('--token <token>').hideHelp());

program
  .command('keygen')
  .description('a new issuer key (Ed25519, mode 0600); its public key added to a JWKS file the members trust')
  .requiredOption('--out <file>', 'where the private key (JWK) goes; never overwritten')
  .option('--jwks <file>', 'the JWKS file of trusted public keys (--token-keys of every member): created or extended')
  .action((o: { out: string; jwks?: string }) => {
    const key = writeIssuerKey(o.out);
    if (o.jwks) {
      const doc = existsSync(o.jwks) ? (JSON.parse(readFileSync(o.jwks, 'utf8')) as { keys?: unknown[] }) : { keys: [] };
      writeFileSync(o.jwks, `${JSON.stringify({ keys: [...(doc.keys ?? []), publicJwk(key.publicKey)] }, null, 2)}\n`);
    }
    process.stderr.write(`issuer key ${o.out}${o.jwks ? `, public key added to ${o.jwks}` : ''}; kid:\n`);
    process.stdout.write(`${key.kid}\n`);
  });

withRemote(
  program
    .command('create')
    .description('issue a token: offline with --issuer-key or --data-dir, or by a running node with --node')
    .requiredOption('--tenant <tenant>', 'the tenant the token acts for', tenant)
    .option('--admin', 'an admin token (sees every tenant, manages tokens and quotas)', false)
    .option('--expires <duration>', 'lifetime, e.g. 30d, 12h, 15m (default: until revoked)', duration)
    .option('--issuer-key <file>', 'an issuer key (npm run token -- keygen): the token is valid wherever its public key is trusted')
    .option('--data-dir <dir>', "a node's data directory: its token store records the token; without --issuer-key, the key of that standalone node signs"),
).action(async (o: { tenant: string; admin: boolean; expires?: number; dataDir?: string; issuerKey?: string } & Remote) => {
  if (o.node) {
    const made = (await remote(o, 'POST', '/.well-known/discovery/tokens/', { tenant: o.tenant, admin: o.admin, ...(o.expires ? { expires: `${o.expires}s` } : {}) })) as { token: string; tid: string; expires: string | null };
    process.stderr.write(`tid ${made.tid}, tenant ${o.tenant}${o.admin ? ' (admin)' : ''}, expires ${made.expires ?? 'never'}\n`);
    process.stdout.write(`${made.token}\n`);
    return;
  }
  if (!o.dataDir && !o.issuerKey) fail('give --issuer-key, --data-dir, or --node');
  const keyFile = o.issuerKey ?? join(o.dataDir!, STANDALONE_KEY_FILE);
  if (!existsSync(keyFile)) fail(`${keyFile} does not exist: a node in a mesh signs with the key of its --issuer-key; pass that file`);
  let key;
  try {
    key = readIssuerKey(keyFile);
  } catch (err) {
    fail((err as Error).message);
  }
  const store = o.dataDir ? new TokenStore(o.dataDir) : undefined;
  try {
    const claims = newClaims({ tenant: o.tenant, admin: o.admin, expiresInSec: o.expires, iss: 'offline' });
    store?.recordToken({ tid: claims.tid, tenant: claims.tenant, admin: claims.admin, created: claims.iat * 1000, expires: claims.exp === undefined ? null : claims.exp * 1000 });
    process.stderr.write(`tid ${claims.tid}, tenant ${o.tenant}${o.admin ? ' (admin)' : ''}, kid ${key.kid}, expires ${claims.exp ? new Date(claims.exp * 1000).toISOString() : 'never'}${store ? '' : ' (not recorded: no --data-dir)'}\n`);
    process.stdout.write(`${signToken(key, claims)}\n`);
  } finally {
    store?.close();
  }
});

withRemote(program.command('keys').description('the issuer keys the node trusts, its own, and the revoked ones')).action(async (o: Remote) => {
  process.stdout.write(`${JSON.stringify(await remote(o, 'GET', '/.well-known/discovery/keys/'), null, 2)}\n`);
});

withRemote(program.command('revoke-key').argument('<kid>', 'issuer key id').description('revoke an issuer key on every member: every token it signed is refused')).action(async (kid: string, o: Remote) => {
  await remote(o, 'DELETE', `/.well-known/discovery/keys/${encodeURIComponent(kid)}`);
  process.stderr.write(`revoked key ${kid}\n`);
});

withRemote(program.command('list').description('token metadata known to the node (and its mesh)')).action(async (o: Remote) => {
  const { tokens } = (await remote(o, 'GET', '/.well-known/discovery/tokens/')) as { tokens: Array<{ tid: string; tenant: string; admin: boolean; created: string; expires: string | null; revoked: string | null }> };
  process.stdout.write(`${['tid', 'tenant', 'admin', 'created', 'expires', 'revoked'].join('\t')}\n`);
  for (const t of tokens) process.stdout.write(`${[t.tid, t.tenant, t.admin ? 'admin' : '-', t.created, t.expires ?? '-', t.revoked ?? '-'].join('\t')}\n`);
});

withRemote(program.command('revoke').argument('<tid>', 'token id (from list)').description('revoke a token on every member')).action(async (tid: string, o: Remote) => {
  await remote(o, 'DELETE', `/.well-known/discovery/tokens/${encodeURIComponent(tid)}`);
  process.stderr.write(`revoked ${tid}\n`);
});

withRemote(
  program
    .command('quota')
    .argument('<tenant>', 'tenant', tenant)
    .description('show or set the quota of a tenant (replicated to every member)')
    .option('--instances <n>', 'computes', amount)
    .option('--cores <n>', 'cores over all computes', amount)
    .option('--memory <GiB>', 'memory over all computes, GiB', amount)
    .option('--storage <GiB>', 'storage size over all storages, GiB', amount)
    .option('--unlimited', 'remove every limit'),
).action(async (t: string, o: Remote & { instances?: number; cores?: number; memory?: number; storage?: number; unlimited?: boolean }) => {
  const path = `/.well-known/discovery/tenants/${encodeURIComponent(t)}`;
  const quota = { instances: o.instances, cores: o.cores, memoryGiB: o.memory, storageGiB: o.storage };
  const setting = o.unlimited || Object.values(quota).some((v) => v !== undefined);
  // The limits not given keep their value.
  const current = ((await remote(o, 'GET', path)) as { quota: Record<string, number> }).quota;
  const view = setting ? await remote(o, 'PUT', path, o.unlimited ? {} : { ...current, ...JSON.parse(JSON.stringify(quota)) }) : await remote(o, 'GET', path);
  process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
});

await program.parseAsync();
