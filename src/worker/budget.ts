/**
 * Tenant budgets and quotas at admission: before a call, its worst-case cost is held against the
 * tenant's budgets (atomically, in Redis: store/budget-store.ts) and the tenant's quota is read, for
 * the limiter to enforce (store/quota-store.ts for the per-minute quota, the limiter's admission for
 * the share of the discovered limits); after it, the hold is settled to the real cost. A port, as
 * records are, so the worker core runs against a fake in its unit tests.
 */

import type { TenantQuota } from '../limiter/types.js';
import { type BudgetAdmission, type BudgetHold, reserveBudget, settleBudget } from '../store/budget-store.js';
import type { RedisConnection as Redis } from '../store/connection.js';
import type { Keyspace } from '../store/keys.js';
import { admitQuota, refundQuota } from '../store/quota-store.js';

export interface BudgetPort {
  /**
   * Hold `worstCaseUsd` against the tenant's budgets, or say which budget refused; `null` (no price)
   * is refused for a tenant with a budget and held as nothing for one without.
   */
  reserve(tenant: string, worstCaseUsd: number | null, holdId: string): Promise<BudgetAdmission>;
  /** Drop the hold, charging `costUsd` (0 when the call was not made). */
  settle(hold: BudgetHold, costUsd: number): Promise<void>;
  /** The tenant's quota for the limiter to enforce; `undefined` when it has none. */
  quotaOf(tenant: string): Promise<TenantQuota | undefined>;
}

export { type WorstCase, webSearchInputTokens, worstCaseCost } from '../core/worst-case.js';

/**
 * Budgets in the queue's Redis keys; a hold left by a dead worker stops counting after `holdMs`.
 * A tenant found to have no record (no budget, no quota) is remembered for `unknownTtlMs`: its calls
 * meanwhile skip the round trip. A tenant added with a budget is enforced from then on at the latest.
 */
export function redisBudgets(
  connection: Redis,
  keys: Keyspace,
  holdMs: number,
  unknownTtlMs: number,
): BudgetPort {
  const unknown = new Map<string, number>();
  return {
    reserve: async (tenant, usd, id) => {
      const now = Date.now();
      const until = unknown.get(tenant);
      if (until !== undefined && until > now) return { kind: 'unknown' };
      const admission = await reserveBudget(connection, keys, tenant, usd, { id, holdMs });
      if (admission.kind === 'unknown' && unknownTtlMs > 0) {
        // Bounded: past this many tenants the memory starts over (they are read again).
        if (unknown.size >= 10_000) unknown.clear();
        unknown.set(tenant, now + unknownTtlMs);
      } else unknown.delete(tenant);
      return admission;
    },
    settle: async (hold, usd) => {
      await settleBudget(connection, keys, hold, usd);
    },
    quotaOf: (tenant) => readQuota(connection, keys, tenant),
  };
}

/** The tenant's quota settings (one round trip) as the limiter's {@link TenantQuota}. */
export async function readQuota(
  connection: Redis,
  keys: Keyspace,
  tenant: string,
): Promise<TenantQuota | undefined> {
  const [rpm, tpm, share] = await connection.hmget(keys.tenant(tenant), 'rpm', 'tpm', 'share');
  const fraction = share === null ? Number.NaN : Number(share);
  const hasShare = fraction > 0 && fraction <= 1;
  const hasPerMinute = rpm !== null || tpm !== null;
  if (!hasShare && !hasPerMinute) return undefined;
  return {
    // The queue's key base names it among every prefix's queues on the account.
    id: `${keys.base}/${tenant}`,
    ...(hasShare ? { share: fraction } : {}),
    ...(hasPerMinute
      ? {
          perMinute: {
            // The script reads the quota itself, so a change applies at once.
            take: (tokens: number) => admitQuota(connection, keys, tenant, tokens),
            giveBack: (requests: number, tokens: number) =>
              refundQuota(connection, keys, tenant, requests, tokens),
          },
        }
      : {}),
  };
}
