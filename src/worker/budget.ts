/**
 * Tenant budgets and quotas at admission: before a call, its worst-case cost is held against the
 * tenant's budgets (atomically, in Redis: store/budget-store.ts) and the tenant's quota is read, for
 * the limiter to enforce (store/quota-store.ts for the per-minute quota, the limiter's admission for
 * the share of the discovered limits); after it, the hold is settled to the real cost. A port, as
 * records are, so the worker core runs against a fake in its unit tests.
 */

import type { JobRequest } from '../core/job.js';
import { contextWindowTokens, maxInputTokens } from '../core/tokens.js';
import type { TenantQuota } from '../limiter/types.js';
import type { Pricing } from '../providers/provider.js';
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

/** What a call may cost at most, or why that cannot be told. */
export type WorstCase =
  | { kind: 'priced'; usd: number; model: string }
  /** Its worst case has no price (a model off the price list, a server tool with no use bound). */
  | { kind: 'unpriced'; what: string };

/** The input tokens one web search may add (its results are billed as input); an assumption. */
export const webSearchInputTokens = 10_000;

/**
 * The most a call can cost ({@link Pricing.worstCase}): an upper bound of its input
 * ({@link maxInputTokens}) at the dearest input rate (a 1-hour cache write), all of `max_tokens`
 * as output, the long-context step and the service tier that may answer, and every server-tool use
 * its tools allow (their fees and what their results add to the input) — on the dearest of `model`
 * and `fallback_models`, since any of them may serve it. `unpriced` when any of those models has no
 * price, or a server tool has no `max_uses`: such a call is never held at 0.
 */
export function worstCaseCost(request: JobRequest, prices: Pick<Pricing, 'worstCase'>): WorstCase {
  const tools = serverToolBound(request.tools);
  if (tools.unbounded !== undefined) return { kind: 'unpriced', what: tools.unbounded };
  const call = {
    inputTokens: maxInputTokens(request) + tools.inputTokens,
    maxTokens: request.max_tokens,
    serverToolUses: tools.uses,
    serviceTier: request.service_tier,
  };
  let worst: WorstCase = { kind: 'priced', usd: 0, model: request.model };
  for (const model of [request.model, ...(request.fallback_models ?? [])]) {
    const usd = prices.worstCase(model, call);
    if (usd === null) return { kind: 'unpriced', what: `model ${JSON.stringify(model)} has no known price` };
    if (usd > worst.usd) worst = { kind: 'priced', usd, model };
  }
  return worst;
}

/** Server tools' uses (by usage field) and the input their results may add; or which is unbounded. */
function serverToolBound(tools: JobRequest['tools']): {
  uses: Record<string, number>;
  inputTokens: number;
  unbounded?: string;
} {
  const uses: Record<string, number> = {};
  let inputTokens = 0;
  for (const tool of tools ?? []) {
    const type = typeof tool.type === 'string' ? tool.type : '';
    const kind = /^web_search_/.test(type) ? 'search' : /^web_fetch_/.test(type) ? 'fetch' : undefined;
    if (kind === undefined) continue;
    const max = tool.max_uses;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 0) {
      return { uses, inputTokens, unbounded: `server tool ${JSON.stringify(type)} has no max_uses` };
    }
    const field = kind === 'search' ? 'web_search_requests' : 'web_fetch_requests';
    uses[field] = (uses[field] ?? 0) + max;
    const perUse =
      kind === 'search'
        ? webSearchInputTokens
        : typeof tool.max_content_tokens === 'number'
          ? tool.max_content_tokens
          : contextWindowTokens;
    inputTokens += max * perUse;
  }
  return { uses, inputTokens };
}

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
