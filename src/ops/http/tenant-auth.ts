/**
 * Who is asking: the admin (`PROMPTQ_AUTH_TOKEN`, or anyone when no token is set and the API is
 * loopback-only) or a tenant (its own token, `Authorization: Bearer pqt_…`). A tenant's requests
 * are that tenant: its jobs carry its `tenant_id`, it sees only its own jobs, and the tenant admin
 * routes are the admin's. Tokens are looked up on every request, so a revoked one fails at once.
 */
import type { NextFunction, Request, Response } from 'express';
import type { JobRequest } from '../../core/job.js';
import { TenantError, type TenantSettings, type TenantStore, tenantView } from '../../store/tenant-store.js';
import { HttpError } from './errors.js';

export type Principal = { kind: 'admin' } | { kind: 'tenant'; tenant: string };

const principals = new WeakMap<Request, Principal>();

/** The principal the middleware found for this request (`undefined` before it, or when refused). */
export function principalOf(req: Request): Principal | undefined {
  return principals.get(req);
}

function bearer(header: string | undefined): string | undefined {
  const [scheme, value] = (header ?? '').split(' ', 2);
  return scheme?.toLowerCase() === 'bearer' && value ? value : undefined;
}

export interface TenantAuthOptions {
  /** `PROMPTQ_AUTH_TOKEN`: when unset, a request without a token is the admin (loopback only). */
  adminToken: string | undefined;
  /** Does the header carry the admin token (app.ts's constant-time check)? */
  isAdmin: (header: string | undefined) => boolean;
  tenants: Pick<TenantStore, 'resolve'>;
  /** Is Redis there to ask? (A tenant token cannot be checked without it.) */
  redisReady: () => boolean;
}

/** Middleware for `/v1`: finds the principal, or answers 401. */
export function tenantAuth(o: TenantAuthOptions) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const header = req.headers.authorization;
      if (o.adminToken !== undefined ? o.isAdmin(header) : header === undefined) {
        principals.set(req, { kind: 'admin' });
        return next();
      }
      const token = bearer(header);
      if (token !== undefined) {
        if (!o.redisReady()) throw new HttpError('unavailable', 'Redis is not reachable; try again');
        const tenant = await o.tenants.resolve(token);
        if (tenant !== null) {
          principals.set(req, { kind: 'tenant', tenant });
          return next();
        }
      }
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw new HttpError('unauthorized', 'missing or wrong bearer token');
    } catch (err) {
      next(err);
    }
  };
}

/**
 * A job body as its principal may submit it: a tenant's jobs get its `tenant_id`; naming another
 * tenant is refused (403). The admin's bodies pass unchanged. Bodies that are not objects are left
 * for validation to reject.
 */
export function scopeJobBody(p: Principal | undefined, body: unknown, field = 'tenant_id'): unknown {
  if (p?.kind !== 'tenant' || typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const given = (body as { tenant_id?: unknown }).tenant_id;
  if (given !== undefined && given !== p.tenant) {
    throw new HttpError('forbidden', `${field}: a tenant token submits jobs for its own tenant only`);
  }
  return { ...body, tenant_id: p.tenant };
}

/** May the principal see (or act on) a job with this request? */
export function mayAccess(p: Principal | undefined, request: Pick<JobRequest, 'tenant_id'>): boolean {
  return p?.kind === 'admin' || (p?.kind === 'tenant' && request.tenant_id === p.tenant);
}

function requireAdmin(req: Request): void {
  if (principalOf(req)?.kind !== 'admin') {
    throw new HttpError('forbidden', 'managing tenants needs the admin token');
  }
}

const settingFields = ['daily_usd', 'monthly_usd', 'on_exceed', 'rpm', 'tpm', 'share'] as const;

/** `{daily_usd, monthly_usd, on_exceed, rpm, tpm, share}` (null clears a budget or quota) → settings; 400 naming the field. */
function parseSettings(body: unknown, extra: readonly string[] = []): Partial<TenantSettings> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError('invalid_request', 'body: must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).find(
    (k) => !(settingFields as readonly string[]).includes(k) && !extra.includes(k),
  );
  if (unknown !== undefined) throw new HttpError('invalid_request', `${unknown}: unknown field`);
  const s: Partial<TenantSettings> = {};
  for (const [field, key] of [
    ['daily_usd', 'dailyUsd'],
    ['monthly_usd', 'monthlyUsd'],
  ] as const) {
    const v = b[field];
    if (v === undefined) continue;
    if (v !== null && typeof v !== 'number') {
      throw new HttpError('invalid_request', `${field}: a number of USD, or null for none`);
    }
    s[key] = v;
  }
  for (const field of ['rpm', 'tpm'] as const) {
    const v = b[field];
    if (v === undefined) continue;
    if (v !== null && typeof v !== 'number') {
      throw new HttpError('invalid_request', `${field}: a whole number per minute, or null for none`);
    }
    s[field] = v;
  }
  if (b.share !== undefined) {
    if (b.share !== null && typeof b.share !== 'number') {
      throw new HttpError('invalid_request', 'share: a fraction of the discovered limits, or null for none');
    }
    s.share = b.share;
  }
  if (b.on_exceed !== undefined) s.onExceed = b.on_exceed as TenantSettings['onExceed'];
  return s;
}

async function tenantCall<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (!(err instanceof TenantError)) throw err;
    const type = { not_found: 'not_found', exists: 'conflict', invalid: 'invalid_request' } as const;
    throw new HttpError(type[err.reason], err.message);
  }
}

interface Reply {
  status: number;
  body: unknown;
}

/** The admin's tenant routes (docs/reference/http-api.md). */
export function tenantRoutes(
  store: TenantStore,
): Array<{ method: 'get' | 'post' | 'patch'; path: string; handler: (req: Request) => Promise<Reply> }> {
  const name = (req: Request) => String(req.params.name);
  return [
    {
      method: 'get',
      path: '/v1/tenants',
      handler: async (req) => {
        requireAdmin(req);
        return { status: 200, body: { tenants: (await store.list()).map(tenantView) } };
      },
    },
    {
      method: 'post',
      path: '/v1/tenants',
      handler: async (req) => {
        requireAdmin(req);
        const settings = parseSettings(req.body, ['name']);
        const n = (req.body as { name?: unknown }).name;
        if (typeof n !== 'string') throw new HttpError('invalid_request', 'name: required: a string');
        const { tenant, token } = await tenantCall(() => store.add(n, settings));
        return { status: 201, body: { tenant: tenantView(tenant), token } };
      },
    },
    {
      method: 'get',
      path: '/v1/tenants/:name',
      handler: async (req) => {
        requireAdmin(req);
        const t = (await store.list()).find((x) => x.name === name(req));
        if (!t) throw new HttpError('not_found', `no tenant "${name(req)}"`);
        return { status: 200, body: tenantView(t) };
      },
    },
    {
      method: 'patch',
      path: '/v1/tenants/:name',
      handler: async (req) => {
        requireAdmin(req);
        const settings = parseSettings(req.body);
        return { status: 200, body: tenantView(await tenantCall(() => store.set(name(req), settings))) };
      },
    },
    {
      method: 'post',
      path: '/v1/tenants/:name/rotate',
      handler: async (req) => {
        requireAdmin(req);
        return { status: 200, body: { token: await tenantCall(() => store.rotate(name(req))) } };
      },
    },
    {
      method: 'post',
      path: '/v1/tenants/:name/revoke',
      handler: async (req) => {
        requireAdmin(req);
        return { status: 200, body: tenantView(await tenantCall(() => store.revoke(name(req)))) };
      },
    },
  ];
}
