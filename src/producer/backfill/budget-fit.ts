/**
 * A dry run's budget check: per tenant named in the file, its estimated cost against what is left of
 * its budgets today and this month (UTC). The estimate uses the observed output ratios when there
 * are any; the worst case (all of `max_tokens`) is reported beside it.
 */

import { formatUsd } from '../../core/format.js';
import type { PriceTable } from '../../providers/anthropic/pricing.js';
import type { TenantWithSpend } from '../../store/tenant-store.js';
import { estimate } from './estimate.js';
import type { ScanResult } from './scan.js';

export interface TenantBudgetFit {
  tenant: string;
  jobs: number;
  /** At the observed output ratios (or max_tokens when none were observed). */
  estimatedUsd: number;
  /** Every job producing all of its max_tokens. */
  worstCaseUsd: number;
  /** What is left of each budget (`null`: no such budget, or no such tenant). */
  remainingUsd: { day: number | null; month: number | null };
  /** `null` when the tenant has no budget (or is no registered tenant). */
  fits: boolean | null;
  onExceed: 'wait' | 'fail' | null;
}

export function budgetFits(
  scan: ScanResult,
  prices: PriceTable,
  tenants: readonly TenantWithSpend[],
  ratios?: Map<string, { ratio: number; samples: number }>,
): TenantBudgetFit[] {
  const known = new Map(tenants.map((t) => [t.name, t]));
  return [...scan.byTenant]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([tenant, byModel]) => {
      const part: ScanResult = { ...scan, byModel, byTenant: new Map() };
      const jobs = [...byModel.values()].reduce((n, m) => n + m.jobs, 0);
      const expected = estimate({ ...part, jobs }, prices, ratios ? { ratios } : {}).standardUsd;
      const worst = estimate({ ...part, jobs }, prices).standardUsd;
      const t = known.get(tenant);
      const left = (budget: number | null | undefined, spent: number) =>
        budget === null || budget === undefined ? null : Math.max(0, budget - spent);
      const remaining = {
        day: left(t?.dailyUsd, t?.spentUsd.day ?? 0),
        month: left(t?.monthlyUsd, t?.spentUsd.month ?? 0),
      };
      const limits = [remaining.day, remaining.month].filter((r): r is number => r !== null);
      return {
        tenant,
        jobs,
        estimatedUsd: expected,
        worstCaseUsd: worst,
        remainingUsd: remaining,
        fits: limits.length === 0 ? null : expected <= Math.min(...limits),
        onExceed: t?.onExceed ?? null,
      };
    });
}

/** One line per tenant: does the file fit what is left of its budgets? */
export function formatBudgetFits(fits: readonly TenantBudgetFit[]): string {
  return fits
    .map((f) => {
      const head = `tenant "${f.tenant}": ${f.jobs.toLocaleString('en-US')} jobs, about ${formatUsd(f.estimatedUsd)} (at most ${formatUsd(f.worstCaseUsd)})`;
      if (f.fits === null) return `${head}; no budget`;
      const left = [
        f.remainingUsd.day === null ? null : `${formatUsd(f.remainingUsd.day)} left today`,
        f.remainingUsd.month === null ? null : `${formatUsd(f.remainingUsd.month)} left this month`,
      ]
        .filter((x) => x !== null)
        .join(', ');
      if (f.fits) return `${head}: fits its remaining budget (${left})`;
      const then =
        f.onExceed === 'fail'
          ? 'the jobs past it will fail with budget_exceeded'
          : 'the jobs past it will wait for the next period';
      return `${head}: does NOT fit its remaining budget (${left}); ${then}`;
    })
    .join('\n');
}
