/**
 * The tenant routes' handlers: the admin lists, adds, reads, changes tenants, rotates and revokes
 * their tokens (docs/reference/http-api.md). A tenant's own token opens none of them.
 */
import type { Request } from 'express';
import { TenantError, type TenantSettings, tenantView } from '../../store/tenant-store.js';
import { HttpError } from './errors.js';
import type { Reply, RouteContext } from './handler.js';
import { principalOf } from './tenant-auth.js';

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
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find(
    (k) => !(settingFields as readonly string[]).includes(k) && !extra.includes(k),
  );
  if (unknown !== undefined) throw new HttpError('invalid_request', `${unknown}: unknown field`);
  const settings: Partial<TenantSettings> = {};
  for (const [field, key] of [
    ['daily_usd', 'dailyUsd'],
    ['monthly_usd', 'monthlyUsd'],
  ] as const) {
    const v = fields[field];
    if (v === undefined) continue;
    if (v !== null && typeof v !== 'number') {
      throw new HttpError('invalid_request', `${field}: a number of USD, or null for none`);
    }
    settings[key] = v;
  }
  for (const field of ['rpm', 'tpm'] as const) {
    const v = fields[field];
    if (v === undefined) continue;
    if (v !== null && typeof v !== 'number') {
      throw new HttpError('invalid_request', `${field}: a whole number per minute, or null for none`);
    }
    settings[field] = v;
  }
  if (fields.share !== undefined) {
    if (fields.share !== null && typeof fields.share !== 'number') {
      throw new HttpError('invalid_request', 'share: a fraction of the discovered limits, or null for none');
    }
    settings.share = fields.share;
  }
  if (fields.on_exceed !== undefined) settings.onExceed = fields.on_exceed as TenantSettings['onExceed'];
  return settings;
}

/** The store's refusals as HTTP errors. */
async function tenantCall<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (!(err instanceof TenantError)) throw err;
    const type = { not_found: 'not_found', exists: 'conflict', invalid: 'invalid_request' } as const;
    throw new HttpError(type[err.reason], err.message);
  }
}

const nameOf = (req: Request) => String(req.params.name);

/** `GET /v1/tenants` */
export async function listTenants({ tenants }: RouteContext, req: Request): Promise<Reply> {
  requireAdmin(req);
  return { status: 200, body: { tenants: (await tenants.list()).map(tenantView) } };
}

/** `POST /v1/tenants`: 201 with the new tenant's token (shown once). */
export async function addTenant({ tenants }: RouteContext, req: Request): Promise<Reply> {
  requireAdmin(req);
  const settings = parseSettings(req.body, ['name']);
  const name = (req.body as { name?: unknown }).name;
  if (typeof name !== 'string') throw new HttpError('invalid_request', 'name: required: a string');
  const { tenant, token } = await tenantCall(() => tenants.add(name, settings));
  return { status: 201, body: { tenant: tenantView(tenant), token } };
}

/** `GET /v1/tenants/:name` */
export async function getTenant({ tenants }: RouteContext, req: Request): Promise<Reply> {
  requireAdmin(req);
  const tenant = (await tenants.list()).find((t) => t.name === nameOf(req));
  if (!tenant) throw new HttpError('not_found', `no tenant "${nameOf(req)}"`);
  return { status: 200, body: tenantView(tenant) };
}

/** `PATCH /v1/tenants/:name` */
export async function updateTenant({ tenants }: RouteContext, req: Request): Promise<Reply> {
  requireAdmin(req);
  const settings = parseSettings(req.body);
  return { status: 200, body: tenantView(await tenantCall(() => tenants.set(nameOf(req), settings))) };
}

/** `POST /v1/tenants/:name/rotate`: a new token; the old one stops working. */
export async function rotateTenantToken({ tenants }: RouteContext, req: Request): Promise<Reply> {
  requireAdmin(req);
  return { status: 200, body: { token: await tenantCall(() => tenants.rotate(nameOf(req))) } };
}

/** `POST /v1/tenants/:name/revoke` */
export async function revokeTenant({ tenants }: RouteContext, req: Request): Promise<Reply> {
  requireAdmin(req);
  return { status: 200, body: tenantView(await tenantCall(() => tenants.revoke(nameOf(req)))) };
}
