/**
 * Admin-only HTTP endpoints (documented in openapi/occi.yaml), used by `npm run token`:
 *   GET    /.well-known/discovery/tokens/          token metadata and revocations
 *   POST   /.well-known/discovery/tokens/          {tenant, admin?, expires?: "30d"} → a new token
 *   DELETE /.well-known/discovery/tokens/{tid}     revoke (here and on every member)
 *   GET    /.well-known/discovery/keys/            trusted issuer keys, this node's, revoked ones
 *   DELETE /.well-known/discovery/keys/{kid}       revoke an issuer key (here and on every member)
 *   GET    /.well-known/discovery/tenants/{tenant} quota and mesh-wide usage
 *   PUT    /.well-known/discovery/tenants/{tenant} {instances?, cores?, memoryGiB?, storageGiB?} (null: no limit)
 * Anyone else gets 403.
 */
import type { Request, Response } from 'express';
import type { Context } from 'openapi-backend';
import { OcciError } from '../../occi/errors.js';
import { PARTIAL_HEADER } from '../edge/headers.js';
import type { Principal } from '../../occi/request.js';
import { sanitizeQuota } from './auth-replication.js';
import type { NodeAuth } from './node-auth.js';
import { parseDuration, TENANT_PATTERN } from './token.js';
import { QUOTA_NAMES } from './token-store.js';

interface Exchange {
  req: Request;
  res: Response;
  principal: Principal;
}

export function adminHandlers(auth: NodeAuth) {
  const admin = (principal: Principal) => {
    if (!principal.admin) throw new OcciError('FORBIDDEN', 'only an admin token may manage tokens and quotas');
  };
  const tenantOf = (c: Context) => {
    const tenant = decodeURIComponent(String(c.request.params['tenant']));
    if (!TENANT_PATTERN.test(tenant)) throw OcciError.badRequest(`tenant ${JSON.stringify(tenant)} is not a valid tenant name`);
    return tenant;
  };
  const tenantView = async (tenant: string) => {
    const record = auth.store.quota(tenant);
    const { usage, estimated, unknown } = await auth.quotas.usage(tenant);
    return { tenant, quota: record?.quota ?? {}, updatedAt: record ? new Date(record.updatedAt).toISOString() : null, usage, partial: [...estimated, ...unknown] };
  };

  // Usage counted without some members' part (estimated from their last answer, or unknown) is said, as collections say it.
  const sendTenant = (res: Response, view: Awaited<ReturnType<typeof tenantView>>) => {
    if (view.partial.length) res.setHeader(PARTIAL_HEADER, view.partial.join(', '));
    res.status(200).json(view);
  };

  return {
    listTokens: (_c: Context, { res, principal }: Exchange) => {
      admin(principal);
      const revoked = new Map(auth.store.revocations().map((r) => [r.tid, r.at]));
      const tokens = auth.store.tokens().map((t) => ({
        tid: t.tid,
        tenant: t.tenant,
        admin: t.admin,
        created: new Date(t.created).toISOString(),
        expires: t.expires === null ? null : new Date(t.expires).toISOString(),
        revoked: revoked.has(t.tid) ? new Date(revoked.get(t.tid)!).toISOString() : null,
      }));
      res.status(200).json({ tokens, revocations: [...revoked.keys()] });
    },
    createToken: (_c: Context, { req, res, principal }: Exchange) => {
      admin(principal);
      const body = jsonBody(req) as { tenant?: unknown; admin?: unknown; expires?: unknown };
      if (typeof body.tenant !== 'string' || !TENANT_PATTERN.test(body.tenant)) throw OcciError.badRequest('tenant: letters, digits, _ . - (up to 63)');
      if (body.admin !== undefined && typeof body.admin !== 'boolean') throw OcciError.badRequest('admin: a boolean');
      let expiresInSec: number | undefined;
      if (body.expires !== undefined && body.expires !== null) {
        try {
          expiresInSec = parseDuration(String(body.expires));
        } catch (err) {
          throw OcciError.badRequest((err as Error).message);
        }
      }
      if (!auth.issues) throw new OcciError('FORBIDDEN', 'this node does not issue tokens (it has no issuer key): ask a node started with --issuer-key, or sign offline with npm run token -- create --issuer-key');
      const { token, meta } = auth.issue({ tenant: body.tenant, admin: body.admin === true, expiresInSec });
      res.status(201).json({ token, tid: meta.tid, tenant: meta.tenant, admin: meta.admin, expires: meta.expires === null ? null : new Date(meta.expires).toISOString() });
    },
    revokeToken: async (c: Context, { res, principal }: Exchange) => {
      admin(principal);
      const tid = String(c.request.params['tid']);
      if (!/^[A-Za-z0-9_-]{8,64}$/.test(tid)) throw OcciError.badRequest(`${JSON.stringify(tid)} is not a token id`);
      await auth.revoke(tid);
      res.status(200).json({ tid, revoked: true });
    },
    listKeys: (_c: Context, { res, principal }: Exchange) => {
      admin(principal);
      res.status(200).json({ trusted: auth.keys?.kids() ?? [], issuer: auth.keys?.signer?.kid ?? null, revoked: auth.store.keyRevocations().map((k) => k.kid), bound: auth.store.issuers() });
    },
    revokeKey: async (c: Context, { res, principal }: Exchange) => {
      admin(principal);
      const kid = String(c.request.params['kid']);
      if (!/^[A-Za-z0-9_-]{16,64}$/.test(kid)) throw OcciError.badRequest(`${JSON.stringify(kid)} is not a key id`);
      await auth.revokeKey(kid);
      res.status(200).json({ kid, revoked: true });
    },
    getTenant: async (c: Context, { res, principal }: Exchange) => {
      admin(principal);
      sendTenant(res, await tenantView(tenantOf(c)));
    },
    putTenant: async (c: Context, { req, res, principal }: Exchange) => {
      admin(principal);
      const tenant = tenantOf(c);
      const body = jsonBody(req) as Record<string, unknown>;
      for (const [k, v] of Object.entries(body)) {
        if (!(QUOTA_NAMES as readonly string[]).includes(k)) throw OcciError.badRequest(`unknown quota ${JSON.stringify(k)}; known: ${QUOTA_NAMES.join(', ')}`);
        if (v !== null && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw OcciError.badRequest(`quota ${k}: a number ≥ 0, or null for no limit`);
      }
      await auth.setQuota(tenant, sanitizeQuota(body));
      sendTenant(res, await tenantView(tenant));
    },
  };
}

function jsonBody(req: Request): unknown {
  const text = typeof req.body === 'string' ? req.body : '';
  if (text.trim() === '') return {};
  try {
    const v: unknown = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v;
  } catch (err) {
    throw OcciError.malformed(`the body must be a JSON object: ${(err as Error).message}`, err);
  }
}
