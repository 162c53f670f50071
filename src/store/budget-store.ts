/**
 * Tenant budgets in Redis: the spend of each UTC day and month, and the holds of calls admitted but
 * not yet settled (lua/budget-*.lua). Amounts are kept as whole nano-USD, so sums are exact; this
 * module speaks USD.
 */
import type { RedisConnection as Redis } from './connection.js';
import type { Keyspace } from './keys.js';
import { script } from './scripts.js';

/** A budget period: a UTC day or a UTC month. */
export type BudgetPeriod = 'day' | 'month';
export const budgetPeriods: readonly BudgetPeriod[] = ['day', 'month'];

const nano = 1e9;
/** USD → whole nano-USD, rounded up: a hold or a charge never comes out smaller than the money. */
export const toNano = (usd: number): number => Math.ceil(Math.round(usd * nano * 1000) / 1000);
export const fromNano = (n: number): number => n / nano;

/** The day (`YYYY-MM-DD`) and month (`YYYY-MM`) of an instant, in UTC. */
export function periodIds(ms: number): Record<BudgetPeriod, string> {
  const iso = new Date(ms).toISOString();
  return { day: iso.slice(0, 10), month: iso.slice(0, 7) };
}

/** When the period containing `ms` ends (ms). */
export function periodEnd(period: BudgetPeriod, ms: number): number {
  const date = new Date(ms);
  return period === 'day'
    ? Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1)
    : Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}

/** A period's spend outlives the period by this much (a call settling after midnight, a late look). */
const spendGraceSeconds = 2 * 24 * 3600;

function ttlSeconds(period: BudgetPeriod, ms: number): number {
  return Math.ceil((periodEnd(period, ms) - ms) / 1000) + spendGraceSeconds;
}

const reserveScript = script(
  'budget-reserve-4.lua',
  ['tenant', 'daySpent', 'monthSpent', 'holds'],
  ['now', 'id', 'cost', 'day', 'month', 'expiresAt', 'holdsTtlMs'],
  (r) => r as [string, string, ...Array<number | string>],
);
const settleScript = script(
  'budget-settle-3.lua',
  ['holds', 'daySpent', 'monthSpent'],
  ['id', 'cost', 'dayTtl', 'monthTtl', 'once'],
  (r) => (r as number[]).map(Number) as [number, number],
);

/** A call admitted against its tenant's budgets: settle it once with its real cost. */
export interface BudgetHold {
  tenant: string;
  id: string;
  /** The periods it was admitted in (and is charged to). */
  day: string;
  month: string;
  /** When it was held (ms), for the TTLs of the spend it settles into. */
  at: number;
}

/** What {@link reserveBudget} decided. */
export type BudgetAdmission =
  /** No such tenant: no budget applies and nothing is held. */
  | { kind: 'unknown' }
  | { kind: 'held'; hold: BudgetHold }
  /** Over a budget: nothing held. USD amounts of the period that refused. */
  | {
      kind: 'over';
      period: BudgetPeriod;
      spentUsd: number;
      /** Held by calls in flight. */
      heldUsd: number;
      budgetUsd: number;
      onExceed: 'wait' | 'fail';
      /** Set when the call has no price and the tenant a budget: refused for good, whatever `onExceed`. */
      unpriced?: true;
    };

/**
 * Hold `costUsd` (a call's worst case) for `tenant` if it fits under each of its budgets, in one
 * atomic step. A hold not settled within `holdMs` (its worker died) stops counting. `null` (a call
 * with no price) is refused when the tenant has a budget, and held as 0 when it has none.
 */
export async function reserveBudget(
  redis: Redis,
  keys: Keyspace,
  tenant: string,
  costUsd: number | null,
  opts: { id: string; holdMs: number; now?: number },
): Promise<BudgetAdmission> {
  const now = opts.now ?? Date.now();
  const p = periodIds(now);
  const r = await reserveScript(
    redis,
    {
      tenant: keys.tenant(tenant),
      daySpent: keys.budgetSpent(tenant, 'day', p.day),
      monthSpent: keys.budgetSpent(tenant, 'month', p.month),
      holds: keys.budgetHolds(tenant),
    },
    {
      now,
      id: opts.id,
      cost: costUsd === null ? -1 : toNano(costUsd),
      day: p.day,
      month: p.month,
      expiresAt: now + opts.holdMs,
      holdsTtlMs: opts.holdMs * 2,
    },
  );
  if (r[0] === 'unknown') return { kind: 'unknown' };
  if (r[0] === 'held') return { kind: 'held', hold: { tenant, id: opts.id, ...p, at: now } };
  return {
    kind: 'over',
    period: r[1] as BudgetPeriod,
    spentUsd: fromNano(Number(r[2])),
    heldUsd: fromNano(Number(r[3])),
    budgetUsd: fromNano(Number(r[4])),
    onExceed: r[5] === 'fail' ? 'fail' : 'wait',
    ...(r[0] === 'unpriced' ? { unpriced: true as const } : {}),
  };
}

/**
 * Drop a hold and charge the call's real cost (0 when no call was made) to its periods. `once`:
 * charge only when the hold is still there, so settling the same hold again charges nothing.
 */
export async function settleBudget(
  redis: Redis,
  keys: Keyspace,
  hold: BudgetHold,
  costUsd: number,
  opts: { once?: boolean } = {},
): Promise<{ dayUsd: number; monthUsd: number }> {
  const [day, month] = await settleScript(
    redis,
    {
      holds: keys.budgetHolds(hold.tenant),
      daySpent: keys.budgetSpent(hold.tenant, 'day', hold.day),
      monthSpent: keys.budgetSpent(hold.tenant, 'month', hold.month),
    },
    {
      id: hold.id,
      cost: Math.max(0, toNano(costUsd)),
      dayTtl: ttlSeconds('day', hold.at),
      monthTtl: ttlSeconds('month', hold.at),
      once: opts.once ? '1' : '0',
    },
  );
  return { dayUsd: fromNano(day), monthUsd: fromNano(month) };
}

/** What tenants spent in the periods containing `now` (USD), one round trip. */
export async function readSpend(
  redis: Redis,
  keys: Keyspace,
  tenants: readonly string[],
  now = Date.now(),
): Promise<Map<string, Record<BudgetPeriod, number>>> {
  const out = new Map<string, Record<BudgetPeriod, number>>();
  if (tenants.length === 0) return out;
  const p = periodIds(now);
  const pipe = redis.pipeline();
  for (const t of tenants) {
    pipe.get(keys.budgetSpent(t, 'day', p.day));
    pipe.get(keys.budgetSpent(t, 'month', p.month));
  }
  const res = (await pipe.exec()) ?? [];
  tenants.forEach((t, i) => {
    out.set(t, {
      day: fromNano(Number(res[2 * i]?.[1] ?? 0)),
      month: fromNano(Number(res[2 * i + 1]?.[1] ?? 0)),
    });
  });
  return out;
}

/**
 * Settle the hold `id` of `tenant` (one whose holder may have restarted since: a Message Batches
 * job) with its real cost, in the day and month it was admitted in (read from the hold), exactly
 * once: a hold no longer there was settled already (by a collector that died before it could say
 * so), and nothing is charged again.
 */
export async function settleBudgetById(
  redis: Redis,
  keys: Keyspace,
  tenant: string,
  id: string,
  costUsd: number,
  now = Date.now(),
): Promise<void> {
  const entry = await redis.hget(keys.budgetHolds(tenant), id);
  const [, day, month] = /^\d+ (\S+) (\S+) \d+$/.exec(entry ?? '') ?? [];
  if (!day || !month) return;
  await settleBudget(redis, keys, { tenant, id, day, month, at: now }, costUsd, { once: true });
}
