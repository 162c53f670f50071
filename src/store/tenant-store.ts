/**
 * Tenants: a name, budgets, what happens over budget, and a token kept only as its SHA-256 digest.
 * The token itself is made here, handed back once, and never written anywhere.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { PromptqError } from '../core/errors.js';
import { type BudgetPeriod, fromNano, readSpend, toNano } from './budget-store.js';
import type { RedisConnection as Redis } from './connection.js';
import type { Keyspace } from './keys.js';

/** What a tenant's jobs do over budget: wait for room (the default) or fail with `budget_exceeded`. */
export type OnExceed = 'wait' | 'fail';
export const onExceedValues: readonly OnExceed[] = ['wait', 'fail'];

/** Tenant names: they appear in Redis keys, metric labels and `tenant_id`. */
export const tenantNamePattern = /^[A-Za-z0-9_.-]{1,64}$/;
/** The largest budget accepted (USD): amounts stay exact in nano-USD. */
export const maxBudgetUsd = 1_000_000;

export interface TenantSettings {
  /** USD per UTC day; `null` = no daily budget. */
  dailyUsd: number | null;
  /** USD per UTC month; `null` = no monthly budget. */
  monthlyUsd: number | null;
  onExceed: OnExceed;
  /** Requests per minute the tenant may send (all workers together); `null` = no quota. */
  rpm: number | null;
  /** Tokens per minute (each call counts its input estimate plus `max_tokens`); `null` = no quota. */
  tpm: number | null;
  /**
   * Fraction (0 < share ≤ 1) of each model group's discovered (or learned) limits — requests and
   * tokens — the tenant may take, enforced by the shared limiter; `null` = no share quota.
   */
  share: number | null;
}

export interface Tenant extends TenantSettings {
  name: string;
  createdAt: string;
  /** When the current token was made; `null` once revoked. */
  tokenCreatedAt: string | null;
  revokedAt: string | null;
}

export interface TenantWithSpend extends Tenant {
  /** Spent in the current UTC day and month (USD). */
  spentUsd: Record<BudgetPeriod, number>;
}

/**
 * A tenant as users see it — the HTTP API and `promptq tenants list --json` — never its token or
 * digest; `spent_usd` when the spend was read.
 */
export function tenantView(t: Tenant & { spentUsd?: Record<BudgetPeriod, number> }) {
  return {
    name: t.name,
    daily_usd: t.dailyUsd,
    monthly_usd: t.monthlyUsd,
    on_exceed: t.onExceed,
    rpm: t.rpm,
    tpm: t.tpm,
    share: t.share,
    created_at: t.createdAt,
    token_created_at: t.tokenCreatedAt,
    revoked_at: t.revokedAt,
    ...(t.spentUsd ? { spent_usd: t.spentUsd } : {}),
  };
}

/** A tenant operation that cannot be done as asked; `code` says why. */
export class TenantError extends PromptqError {
  override readonly name = 'TenantError';
  constructor(
    readonly reason: 'not_found' | 'exists' | 'invalid',
    message: string,
  ) {
    super(message, { code: `tenant_${reason}`, exitCode: reason === 'not_found' ? 1 : 2 });
  }
}

const tokenPrefix = 'pqt_';

/** A new tenant token: 256 random bits, recognisable by its prefix (secret scanners, logs). */
function newToken(): string {
  return tokenPrefix + randomBytes(32).toString('base64url');
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Check settings; throws {@link TenantError} naming the bad field. */
export function checkSettings(s: Partial<TenantSettings>): void {
  for (const [field, v] of [
    ['daily_usd', s.dailyUsd],
    ['monthly_usd', s.monthlyUsd],
  ] as const) {
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > maxBudgetUsd) {
      throw new TenantError('invalid', `${field}: a number of USD from 0 to ${maxBudgetUsd}`);
    }
  }
  for (const [field, v] of [
    ['rpm', s.rpm],
    ['tpm', s.tpm],
  ] as const) {
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1e9) {
      throw new TenantError('invalid', `${field}: a whole number from 1 to 1000000000 per minute`);
    }
  }
  if (s.share !== undefined && s.share !== null) {
    if (typeof s.share !== 'number' || !Number.isFinite(s.share) || s.share <= 0 || s.share > 1) {
      throw new TenantError(
        'invalid',
        'share: a fraction of the discovered limits, more than 0 and at most 1',
      );
    }
  }
  if (s.onExceed !== undefined && !onExceedValues.includes(s.onExceed)) {
    throw new TenantError('invalid', `on_exceed: one of ${onExceedValues.join(', ')}`);
  }
}

function checkName(name: string): void {
  if (!tenantNamePattern.test(name)) {
    throw new TenantError('invalid', `name: 1-64 characters from A-Z a-z 0-9 _ . - (got "${name}")`);
  }
}

function fields(s: Partial<TenantSettings>): { set: Record<string, string>; del: string[] } {
  const set: Record<string, string> = {};
  const del: string[] = [];
  for (const [field, v] of [
    ['daily_nusd', s.dailyUsd],
    ['monthly_nusd', s.monthlyUsd],
  ] as const) {
    if (v === null) del.push(field);
    else if (v !== undefined) set[field] = String(toNano(v));
  }
  for (const [field, v] of [
    ['rpm', s.rpm],
    ['tpm', s.tpm],
    ['share', s.share],
  ] as const) {
    if (v === null) del.push(field);
    else if (v !== undefined) set[field] = String(v);
  }
  if (s.onExceed !== undefined) set.on_exceed = s.onExceed;
  return { set, del };
}

function fromHash(name: string, h: Record<string, string>): Tenant {
  const usd = (f: string) => (h[f] === undefined ? null : fromNano(Number(h[f])));
  return {
    name,
    dailyUsd: usd('daily_nusd'),
    monthlyUsd: usd('monthly_nusd'),
    onExceed: h.on_exceed === 'fail' ? 'fail' : 'wait',
    rpm: h.rpm === undefined ? null : Number(h.rpm),
    tpm: h.tpm === undefined ? null : Number(h.tpm),
    share: h.share === undefined ? null : Number(h.share),
    createdAt: h.created_at ?? '',
    tokenCreatedAt: h.token_created_at ?? null,
    revokedAt: h.revoked_at ?? null,
  };
}

/** The tenants of one queue. */
export class TenantStore {
  readonly #redis: Redis;
  readonly #keys: Keyspace;

  constructor(redis: Redis, keys: Keyspace) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** Create a tenant; returns its token, the only time it is seen. */
  async add(
    name: string,
    settings: Partial<TenantSettings> = {},
  ): Promise<{ tenant: Tenant; token: string }> {
    checkName(name);
    checkSettings(settings);
    const k = this.#keys;
    if ((await this.#redis.sadd(k.tenants, name)) === 0) {
      throw new TenantError('exists', `tenant "${name}" exists (use set or rotate)`);
    }
    const token = newToken();
    const hex = digest(token).toString('hex');
    const now = new Date().toISOString();
    const { set } = fields({ onExceed: 'wait', ...settings });
    await this.#redis
      .multi()
      .hset(k.tenant(name), { ...set, created_at: now, token_sha256: hex, token_created_at: now })
      .hset(k.tenantTokens, hex, name)
      .exec();
    return { tenant: (await this.get(name))!, token };
  }

  async get(name: string): Promise<Tenant | null> {
    if (!tenantNamePattern.test(name)) return null;
    const h = await this.#redis.hgetall(this.#keys.tenant(name));
    return Object.keys(h).length === 0 ? null : fromHash(name, h);
  }

  async #require(name: string): Promise<Record<string, string>> {
    const h = tenantNamePattern.test(name) ? await this.#redis.hgetall(this.#keys.tenant(name)) : {};
    if (Object.keys(h).length === 0) throw new TenantError('not_found', `no tenant "${name}"`);
    return h;
  }

  /** Every tenant, by name, with what it spent this UTC day and month. */
  async list(now = Date.now()): Promise<TenantWithSpend[]> {
    const names = (await this.#redis.smembers(this.#keys.tenants)).sort();
    const pipe = this.#redis.pipeline();
    for (const n of names) pipe.hgetall(this.#keys.tenant(n));
    const hashes = (await pipe.exec()) ?? [];
    const spend = await readSpend(this.#redis, this.#keys, names, now);
    return names.flatMap((n, i) => {
      const h = (hashes[i]?.[1] ?? {}) as Record<string, string>;
      if (Object.keys(h).length === 0) return [];
      return [{ ...fromHash(n, h), spentUsd: spend.get(n) ?? { day: 0, month: 0 } }];
    });
  }

  /** Change budgets or `onExceed` (`null` removes a budget); takes effect at the next admission. */
  async set(name: string, settings: Partial<TenantSettings>): Promise<Tenant> {
    checkSettings(settings);
    await this.#require(name);
    const { set, del } = fields(settings);
    const m = this.#redis.multi();
    if (Object.keys(set).length > 0) m.hset(this.#keys.tenant(name), set);
    if (del.length > 0) m.hdel(this.#keys.tenant(name), ...del);
    await m.exec();
    return (await this.get(name))!;
  }

  /** A new token; the old one (if any) stops working at once. */
  async rotate(name: string): Promise<string> {
    const h = await this.#require(name);
    const token = newToken();
    const hex = digest(token).toString('hex');
    const m = this.#redis.multi();
    if (h.token_sha256) m.hdel(this.#keys.tenantTokens, h.token_sha256);
    await m
      .hset(this.#keys.tenant(name), { token_sha256: hex, token_created_at: new Date().toISOString() })
      .hdel(this.#keys.tenant(name), 'revoked_at')
      .hset(this.#keys.tenantTokens, hex, name)
      .exec();
    return token;
  }

  /** The token stops working at once; budgets and spend stay (`rotate` issues a new token). */
  async revoke(name: string): Promise<Tenant> {
    const h = await this.#require(name);
    const m = this.#redis.multi();
    if (h.token_sha256) m.hdel(this.#keys.tenantTokens, h.token_sha256);
    await m
      .hdel(this.#keys.tenant(name), 'token_sha256', 'token_created_at')
      .hset(this.#keys.tenant(name), 'revoked_at', new Date().toISOString())
      .exec();
    return (await this.get(name))!;
  }

  /**
   * The tenant a token belongs to, or `null`. Looked up by digest, then the stored digest compared
   * in constant time, so a revoked or rotated token fails on the next request.
   */
  async resolve(token: string): Promise<string | null> {
    if (!token.startsWith(tokenPrefix)) return null;
    const presented = digest(token);
    const name = await this.#redis.hget(this.#keys.tenantTokens, presented.toString('hex'));
    if (name === null) return null;
    const stored = await this.#redis.hget(this.#keys.tenant(name), 'token_sha256');
    if (stored === null || stored.length !== 64) return null;
    return timingSafeEqual(Buffer.from(stored, 'hex'), presented) ? name : null;
  }
}
