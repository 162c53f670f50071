/**
 * Tenant budgets on the Message Batches route, held and settled as a live call's are
 * (worker/budget.ts): a line of a tenant is put in a batch only once its worst case at the Batches
 * price is held against the tenant's budgets; its result settles the hold to its real cost (0 for a
 * request that errored, expired or was canceled, or that is sent again live, where the worker holds
 * it anew). A line the budget refuses is not batched: it goes to the live queue, where the worker
 * waits or fails it as the tenant says (`--on-exceed`), and refuses one with no price.
 *
 * Holds are named after the job (`batch:<job id>`), so a resumed run settles what a killed one held;
 * they last `holdMs` (a batch may take 24 hours, and follow-up rounds as long again). Settling is
 * exactly once (budget-settle-3.lua `once`): only a hold still there is charged, so a batch collected
 * again after a crash — its jobs finished, some holds settled, then the process died — charges each
 * job once; holding a job again replaces its hold (budget-reserve-4.lua).
 */
import { worstCaseCost } from '../../core/worst-case.js';
import type { Pricing } from '../../providers/provider.js';
import { reserveBudget, settleBudgetById, toNano } from '../../store/budget-store.js';
import type { RedisConnection as Redis } from '../../store/connection.js';
import type { Keyspace } from '../../store/keys.js';
import type { ValidLine } from './parse.js';

/** How long a batched line's hold counts: four rounds of the 24-hour window, and a day to collect. */
export const batchHoldMs = 5 * 24 * 3600 * 1000;

export class BatchBudgets {
  readonly #redis: Redis;
  readonly #keys: Keyspace;
  readonly #prices: Pick<Pricing, 'worstCase'>;
  /** Tenants found to have no record: nothing to hold or settle for them. */
  readonly #unknown = new Set<string>();

  constructor(redis: Redis, keys: Keyspace, prices: Pick<Pricing, 'worstCase'>) {
    this.#redis = redis;
    this.#keys = keys;
    this.#prices = prices;
  }

  /**
   * Hold the line's worst case at the Batches price: `held`; `wait` when its tenant's budget refuses
   * it only for the holds in flight (it fits once they settle); `over` when it does not fit even then.
   */
  async hold(line: ValidLine): Promise<'held' | 'wait' | 'over'> {
    const tenant = line.request.tenant_id;
    if (tenant === undefined || this.#unknown.has(tenant)) return 'held';
    const worst = worstCaseCost(line.request, this.#prices, { batch: true });
    const admission = await reserveBudget(
      this.#redis,
      this.#keys,
      tenant,
      worst.kind === 'priced' ? worst.usd : null,
      { id: holdId(line), holdMs: batchHoldMs },
    );
    if (admission.kind === 'unknown') this.#unknown.add(tenant);
    if (admission.kind !== 'over') return 'held';
    const fitsWhenSettled =
      admission.unpriced !== true &&
      worst.kind === 'priced' &&
      toNano(admission.spentUsd) + toNano(worst.usd) <= toNano(admission.budgetUsd);
    return fitsWhenSettled ? 'wait' : 'over';
  }

  /** Settle the line's hold with what its request cost (`null`: nothing); a hold settled already is left. */
  async settle(line: ValidLine, costUsd: number | null): Promise<void> {
    const tenant = line.request.tenant_id;
    if (tenant === undefined || this.#unknown.has(tenant)) return;
    await settleBudgetById(this.#redis, this.#keys, tenant, holdId(line), costUsd ?? 0);
  }
}

/** A line's hold: one per job, whichever run of the backfill holds or settles it. */
function holdId(line: ValidLine): string {
  return `batch:${line.id}`;
}
