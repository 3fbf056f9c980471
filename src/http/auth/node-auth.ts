/**
 * Authentication, tenants' quotas and their replication for one node, composed from the parts
 * of this folder: the signing key (derived from the cluster secret in a mesh, a key file
 * otherwise), the token store, the verifier, the middleware, the forwarded-principal envelopes,
 * the quota gate and the mesh replication.
 *
 * Secure by default: the first time a data directory sees a signing key, the node issues an
 * admin token and `announce()` prints it once.
 *
 * @example
 *   const auth = openNodeAuth({ mode: 'token', dataDir, clusterSecret, mesh, service, logger });
 *   const app = await createApp({ service, logger, auth, mesh: new MeshEdge({ mesh, service, logger, auth: auth.forwarding }) });
 *   auth.announce(); // prints the first admin token, once per data directory
 */
import { forwardedMark } from '../forwarded-request.js';
import type { Request } from 'express';
import type { Logger } from 'pino';
import type { Mesh } from '../../mesh/mesh.js';
import type { OcciService } from '../../occi/service.js';
import { AuthReplication } from './auth-replication.js';
import { authenticate, type AuthMode, type AuthPrincipal, TokenVerifier } from './authenticate.js';
import { ForwardedPrincipals } from './forwarded-principal.js';
import { QuotaGate } from './quota.js';
import { keyFingerprint, loadOrCreateStandaloneKey, newClaims, signingKeyFromSecret, signToken } from './token.js';
import { type Quota, type TokenMeta, TokenStore } from './token-store.js';

export const INITIAL_ADMIN_TENANT = 'admin';
export const META_SIGNING = 'signing';
export const META_FINGERPRINT = 'key-fingerprint';
const META_INITIAL = 'initial-token-key';

export interface NodeAuthOptions {
  mode: AuthMode;
  dataDir: string;
  /** In a mesh: the cluster secret, from which every member derives the same signing key. */
  clusterSecret?: string | Buffer;
  mesh?: Mesh;
  service: OcciService;
  logger: Logger;
}

export class NodeAuth {
  readonly mode: AuthMode;
  readonly store: TokenStore;
  readonly key: Buffer;
  readonly verifier: TokenVerifier;
  readonly quotas: QuotaGate;
  readonly replication?: AuthReplication;
  readonly forwarding?: ForwardedPrincipals;
  /** The admin token issued at this start, when it is the first with this key in this data directory. */
  readonly initialAdminToken?: string;
  private readonly origin: string;

  constructor(private readonly opts: NodeAuthOptions) {
    this.mode = opts.mode;
    this.store = new TokenStore(opts.dataDir);
    this.key = opts.clusterSecret !== undefined ? signingKeyFromSecret(opts.clusterSecret) : loadOrCreateStandaloneKey(opts.dataDir);
    const fingerprint = keyFingerprint(this.key);
    this.store.setMeta(META_SIGNING, opts.clusterSecret !== undefined ? 'cluster' : 'standalone');
    this.store.setMeta(META_FINGERPRINT, fingerprint);
    this.verifier = new TokenVerifier(this.key, this.store);
    this.origin = opts.mesh?.key ?? 'node';
    if (opts.mesh) {
      this.replication = new AuthReplication({ mesh: opts.mesh, store: this.store, logger: opts.logger.child({ part: 'auth' }) });
      this.forwarding = new ForwardedPrincipals({
        mode: opts.mode,
        keyPair: opts.mesh.keyPair,
        verifier: this.verifier,
        logger: opts.logger.child({ part: 'auth' }),
        principalOf: (req: Request) => req.res?.locals['principal'] as AuthPrincipal | undefined,
      });
    }
    this.quotas = new QuotaGate({ store: this.store, service: opts.service, mesh: opts.mesh, logger: opts.logger });
    if (opts.mode === 'token' && this.store.meta(META_INITIAL) !== fingerprint) {
      this.initialAdminToken = this.issue({ tenant: INITIAL_ADMIN_TENANT, admin: true }).token;
      this.store.setMeta(META_INITIAL, fingerprint);
    }
  }

  /** The authentication middleware (sets `res.locals.principal`). */
  middleware() {
    return authenticate({ mode: this.mode, verifier: this.verifier, logger: this.opts.logger, trusted: (req) => forwardedMark(req)?.decision });
  }

  /** Signs a token with this node's key and records (and replicates) its metadata. */
  issue(opts: { tenant: string; admin: boolean; expiresInSec?: number }): { token: string; meta: TokenMeta } {
    const claims = newClaims(opts);
    const meta: TokenMeta = { tid: claims.tid, tenant: claims.tenant, admin: claims.admin, created: claims.iat * 1000, expires: claims.exp === undefined ? null : claims.exp * 1000 };
    this.store.recordToken(meta);
    void this.replication?.publish({ tokens: [meta] });
    return { token: signToken(this.key, claims), meta };
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
      print(`Admin token (shown once; keep it safe): ${this.initialAdminToken}`);
      logger.warn({ token: this.initialAdminToken, tenant: INITIAL_ADMIN_TENANT }, 'first start with this signing key: issued an admin token (shown once)');
    }
  }

  async close(): Promise<void> {
    this.replication?.close();
    await this.replication?.flushed();
    this.store.close();
  }
}

export function openNodeAuth(opts: NodeAuthOptions): NodeAuth {
  return new NodeAuth(opts);
}
