/**
 * `npm run token -- …`: issue tokens offline, and manage tokens and quotas of a running node.
 *
 *   create --tenant acme [--admin] [--expires 30d] (--data-dir D | --cluster-secret S)
 *       signs a token offline (with the key of that data directory, or the one every member of
 *       the mesh derives from the cluster secret) and records its metadata in D when given;
 *   create --tenant acme [--admin] [--expires 30d] --node URL --token ADMIN   (issued by the node)
 *   list                         --node URL --token ADMIN
 *   revoke <tid>                 --node URL --token ADMIN   (every member of the mesh)
 *   quota <tenant> [--instances N] [--cores N] [--memory GiB] [--storage GiB] [--unlimited]
 *                                --node URL --token ADMIN   (limits not given are kept; none given:
 *                                shows the quota and the mesh-wide usage)
 * The token is printed alone on stdout; everything else goes to stderr.
 */
import { Command, InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { keyFingerprint, KEY_FILE, loadOrCreateStandaloneKey, newClaims, parseDuration, signingKeyFromSecret, signToken, TENANT_PATTERN } from '../http/auth/token.js';
import { AUTH_DB_FILE, TokenStore } from '../http/auth/token-store.js';
import { META_FINGERPRINT, META_SIGNING } from '../http/auth/node-auth.js';

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
  token?: string;
}

async function remote(opts: Remote, method: string, path: string, body?: unknown): Promise<unknown> {
  if (!opts.node) fail('--node <url> is required');
  const token = opts.token ?? process.env[TOKEN_ENV];
  if (!token) fail(`--token <admin token> (or ${TOKEN_ENV}) is required`);
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

const program = new Command().name('token').description('Issue, list and revoke tokens; set tenant quotas').showHelpAfterError();
const withRemote = (c: Command) => c.option('--node <url>', 'a running node, e.g. http://127.0.0.1:8080').option('--token <token>', `an admin token (env ${TOKEN_ENV})`);

withRemote(
  program
    .command('create')
    .description('issue a token: offline with --data-dir or --cluster-secret, or by a running node with --node')
    .requiredOption('--tenant <tenant>', 'the tenant the token acts for', tenant)
    .option('--admin', 'an admin token (sees every tenant, manages tokens and quotas)', false)
    .option('--expires <duration>', 'lifetime, e.g. 30d, 12h, 15m (default: until revoked)', duration)
    .option('--data-dir <dir>', "the node's data directory: its key signs, its token store records the token")
    .option('--cluster-secret <secret>', 'the mesh cluster secret: the token is valid on every member'),
).action(async (o: { tenant: string; admin: boolean; expires?: number; dataDir?: string; clusterSecret?: string } & Remote) => {
  if (o.node) {
    const made = (await remote(o, 'POST', '/.well-known/discovery/tokens/', { tenant: o.tenant, admin: o.admin, ...(o.expires ? { expires: `${o.expires}s` } : {}) })) as { token: string; tid: string; expires: string | null };
    process.stderr.write(`tid ${made.tid}, tenant ${o.tenant}${o.admin ? ' (admin)' : ''}, expires ${made.expires ?? 'never'}\n`);
    process.stdout.write(`${made.token}\n`);
    return;
  }
  if (!o.dataDir && o.clusterSecret === undefined) fail('give --data-dir, --cluster-secret, or --node');
  const store = o.dataDir ? new TokenStore(o.dataDir) : undefined;
  try {
    let key: Buffer;
    if (o.clusterSecret !== undefined) {
      key = signingKeyFromSecret(o.clusterSecret);
      const known = store?.meta(META_FINGERPRINT);
      if (known && known !== keyFingerprint(key)) fail(`the node of ${o.dataDir} signs with another key: wrong cluster secret?`);
    } else {
      if (store!.meta(META_SIGNING) === 'cluster') fail(`the node of ${o.dataDir} is in a mesh and signs with its cluster secret: pass --cluster-secret`);
      if (!existsSync(join(o.dataDir!, KEY_FILE)) && existsSync(join(o.dataDir!, AUTH_DB_FILE))) process.stderr.write(`token: ${o.dataDir} had no key yet; created one\n`);
      key = loadOrCreateStandaloneKey(o.dataDir!);
    }
    const claims = newClaims({ tenant: o.tenant, admin: o.admin, expiresInSec: o.expires });
    store?.recordToken({ tid: claims.tid, tenant: claims.tenant, admin: claims.admin, created: claims.iat * 1000, expires: claims.exp === undefined ? null : claims.exp * 1000 });
    process.stderr.write(`tid ${claims.tid}, tenant ${o.tenant}${o.admin ? ' (admin)' : ''}, expires ${claims.exp ? new Date(claims.exp * 1000).toISOString() : 'never'}${store ? '' : ' (not recorded: no --data-dir)'}\n`);
    process.stdout.write(`${signToken(key, claims)}\n`);
  } finally {
    store?.close();
  }
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
