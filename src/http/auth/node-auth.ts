/**
 * Authentication, tenants' quotas and their replication for one node, composed from the parts
 * of this folder: the token keys (this node's issuer key if it issues, the issuers' public keys
 * it trusts), the token store, the verifier, the middleware, the forwarded-principal envelopes,
 * the quota gate and the mesh replication.
 *
 * Secure by default: the data directory is made private to its owner (0700), and the first time
 * a data directory sees an issuer key, the node issues an admin token and `announce()` prints it
 * once, on stdout only.
 *
 * @example
 *   const auth = openNodeAuth({ mode: 'token', dataDir, keys: { issuerKeyFile }, mesh, service, logger });
 *   const app = await createApp({ service, logger, auth, mesh: new MeshEdge({ mesh, service, logger, auth: auth.forwarding }) });
 *   auth.announce(); // prints the first admin token, once per data directory and issuer key
 */
import type { UsageRecords } from '../../mesh/records/usage-records.js';
import { chmodSync, mkdirSync } from 'node:fs';
import { forwardedMark } from '../forwarded-request.js';
import type { Request } from 'express';
import type { Logger } from 'pino';
import type { Member, Mesh } from '../../mesh/mesh.js';
import type { OcciService } from '../../occi/service.js';
import { AuthReplication } from './auth-replication.js';
import { authenticate, type AuthMode, type AuthPrincipal, TokenVerifier } from './authenticate.js';
import { ForwardedPrincipals } from './forwarded-principal.js';
import { QuotaGate } from './quota.js';
import { newClaims, signToken } from './token.js';
import { type TokenKeyFiles, TokenKeys } from './token-keys.js';
import { type Quota, type TokenMeta, TokenStore } from './token-store.js';

export const INITIAL_ADMIN_TENANT = 'admin';
const META_INITIAL = 'initial-token-key';
const META_BOOT = 'boot';

export interface NodeAuthOptions {
  mode: AuthMode;
  dataDir: string;
  /** The issuer key this node signs with, and the issuers' public keys it trusts (token-keys.ts). */
  keys?: TokenKeyFiles;
  mesh?: Mesh;
  service: OcciService;
  logger: Logger;
  /** With the overlay: tenants' usage parts on the ring directory (quota.ts). */
  usageRecords?: UsageRecords;
}

export class NodeAuth {
  readonly mode: AuthMode;
  readonly store: TokenStore;
  /** The keys tokens are checked with (and signed with, on an issuer); none with `--auth none`. */
  readonly keys?: TokenKeys;
  readonly verifier?: TokenVerifier;
  readonly quotas: QuotaGate;
  readonly replication?: AuthReplication;
  readonly forwarding?: ForwardedPrincipals;
  /** The admin token issued at this start, when it is the first with this issuer key in this data directory. */
  readonly initialAdminToken?: string;
  private readonly origin: string;
  private readonly onMemberLeft = (m: Member, reason: string) => {
    if (reason === 'revoked') void this.revokeKeysOf(m.key);
  };

  constructor(private readonly opts: NodeAuthOptions) {
    const { mesh, dataDir } = opts;
    this.mode = opts.mode;
    secureDataDir(dataDir);
    this.store = new TokenStore(dataDir);
    if (opts.mode === 'token') {
      this.keys = new TokenKeys({ dataDir, standalone: !mesh, ...opts.keys });
      this.verifier = new TokenVerifier({ keys: this.keys, store: this.store, nodeRevoked: (key) => mesh?.isRevoked(key) ?? false, catchingUp: () => this.replication?.catchingUp() ?? false });
    }
    this.origin = mesh?.key ?? 'node';
    if (mesh) {
      this.replication = new AuthReplication({ mesh, store: this.store, logger: opts.logger.child({ part: 'auth' }) });
      this.forwarding = new ForwardedPrincipals({
        mode: opts.mode,
        keyPair: mesh.keyPair,
        boot: this.nextBoot(),
        verifier: this.verifier,
        logger: opts.logger.child({ part: 'auth' }),
        principalOf: (req: Request) => req.res?.locals['principal'] as AuthPrincipal | undefined,
      });
      const signer = this.keys?.signer;
      // Whoever revokes this node revokes its issuer key with it.
      if (signer && this.store.bindIssuer({ kid: signer.kid, node: mesh.key })) void this.replication.publish({ issuers: [{ kid: signer.kid, node: mesh.key }] });
      mesh.on('member-left', this.onMemberLeft);
    }
    this.quotas = new QuotaGate({ store: this.store, service: opts.service, mesh, logger: opts.logger, ...(opts.usageRecords ? { records: opts.usageRecords } : {}) });
    const signer = this.keys?.signer;
    if (signer && this.store.meta(META_INITIAL) !== signer.kid) {
      this.initialAdminToken = this.issue({ tenant: INITIAL_ADMIN_TENANT, admin: true }).token;
      this.store.setMeta(META_INITIAL, signer.kid);
    }
  }

  /** Whether this node signs tokens (it holds an issuer key). */
  get issues(): boolean {
    return this.keys?.signer !== undefined;
  }

  /** This start's number (one more than the last start's, kept in auth.db): what orders this node's envelopes without a clock. */
  private nextBoot(): number {
    const boot = Number(this.store.meta(META_BOOT) ?? '0') + 1;
    this.store.setMeta(META_BOOT, String(boot));
    return boot;
  }

  /** The authentication middleware (sets `res.locals.principal`). */
  middleware() {
    return authenticate({ mode: this.mode, verifier: this.verifier, logger: this.opts.logger, trusted: (req) => forwardedMark(req)?.decision });
  }

  /** Signs a token with this node's issuer key and records (and replicates) its metadata. */
  issue(opts: { tenant: string; admin: boolean; expiresInSec?: number }): { token: string; meta: TokenMeta } {
    const signer = this.keys?.signer;
    if (!signer) throw new Error('this node does not issue tokens (it has no issuer key)');
    const claims = newClaims({ ...opts, ...(this.opts.mesh ? { iss: this.opts.mesh.key } : {}) });
    const meta: TokenMeta = { tid: claims.tid, tenant: claims.tenant, admin: claims.admin, created: claims.iat * 1000, expires: claims.exp === undefined ? null : claims.exp * 1000 };
    this.store.recordToken(meta);
    void this.replication?.publish({ tokens: [meta] });
    return { token: signToken(signer, claims), meta };
  }

  /** Refuses every token signed with this issuer key, here and on every member. */
  async revokeKey(kid: string): Promise<void> {
    const at = Date.now();
    this.store.revokeKey(kid, at);
    await this.replication?.publish({ keyRevocations: [{ kid, at }] });
  }

  /** The issuer keys bound to a node that was revoked: revoked too. */
  private async revokeKeysOf(node: string): Promise<void> {
    const kids = this.store.issuers().filter((b) => b.node === node).map((b) => b.kid);
    for (const kid of kids) await this.revokeKey(kid);
    if (kids.length) this.opts.logger.warn({ member: node.slice(0, 8), kids }, 'revoked the issuer keys of a revoked node');
  }

  /** Revokes a token here and on every member; resolves once the members answered (or failed). */
  async revoke(tid: string): Promise<void> {
    const at = Date.now();
    this.store.revoke(tid, at);
    await this.replication?.publish({ revocations: [{ tid, at }] });
  }

  async setQuota(tenant: string, quota: Quota): Promise<void> {
    const record = { tenant, quota, updatedAt: Math.max(Date.now(), (this.store.quota(tenant)?.updatedAt ?? 0) + 1), origin: this.origin };
    this.store.putQuota(record);
    await this.replication?.publish({ quotas: [record] });
  }

  /** Logs the mode loudly when authentication is off, and prints the first admin token once. */
  announce(print: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): void {
    const { logger } = this.opts;
    if (this.mode === 'none') {
      logger.warn('AUTHENTICATION IS DISABLED (--auth none): every client acts as admin of every tenant. Use this only for local trials, never on a reachable address.');
      return;
    }
    if (this.initialAdminToken) {
      // On stdout only: log lines are collected and kept where a token must not be.
      print(`Admin token (shown once; keep it safe): ${this.initialAdminToken}`);
      logger.warn({ tenant: INITIAL_ADMIN_TENANT, kid: this.keys?.signer?.kid }, 'first start with this issuer key: issued an admin token, printed once on stdout');
    }
  }

  async close(): Promise<void> {
    this.opts.mesh?.off('member-left', this.onMemberLeft);
    this.replication?.close();
    await this.replication?.flushed();
    this.store.close();
  }
}

export function openNodeAuth(opts: NodeAuthOptions): NodeAuth {
  return new NodeAuth(opts);
}

/** The data directory, private to its owner: created 0700, or made so when it exists. */
export function secureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}
