/**
 * Who is asking: the admin (`PROMPTQ_AUTH_TOKEN`, or anyone when no token is set and the API is
 * loopback-only) or a tenant (its own token, `Authorization: Bearer pqt_…`). A tenant's requests
 * are that tenant: its jobs carry its `tenant_id`, it sees only its own jobs, and the tenant admin
 * routes are the admin's (tenant-handlers.ts). Tokens are looked up on every request, so a revoked one fails at once.
 */
import type { NextFunction, Request, Response } from 'express';
import type { JobRequest } from '../../core/job.js';
import type { TenantStore } from '../../store/tenant-store.js';
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
  /** Resolves once Redis is there to ask (a tenant token cannot be checked without it), bounded. */
  whenRedis: (req: Request) => Promise<void>;
}

/** Middleware for `/v1`: finds the principal, or answers 401. */
export function tenantAuth(options: TenantAuthOptions) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const header = req.headers.authorization;
      if (options.adminToken !== undefined ? options.isAdmin(header) : header === undefined) {
        principals.set(req, { kind: 'admin' });
        return next();
      }
      const token = bearer(header);
      if (token !== undefined) {
        await options.whenRedis(req);
        const tenant = await options.tenants.resolve(token);
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
