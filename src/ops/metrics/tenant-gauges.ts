/**
 * Tenants' budgets and spend, read from Redis at scrape time: queue-wide facts, the same from every
 * process, so dashboards and alerts take `max` of them (docs/reference/metrics.md).
 */
import { Gauge } from 'prom-client';
import { type BudgetPeriod, budgetPeriods } from '../../store/budget-store.js';
import type { TenantWithSpend } from '../../store/tenant-store.js';
import type { Metrics } from './metrics.js';

export interface TenantSource {
  list(): Promise<TenantWithSpend[]>;
}

/** Per tenant label (`other` sums the tenants past the label bound), per period. */
type Sums = Map<string, Partial<Record<BudgetPeriod, number>>>;

function add(sums: Sums, tenant: string, period: BudgetPeriod, usd: number): void {
  const row = sums.get(tenant) ?? {};
  row[period] = (row[period] ?? 0) + usd;
  sums.set(tenant, row);
}

export function registerTenantGauges(metrics: Metrics, tenants: TenantSource): void {
  // One read of Redis per scrape serves both gauges.
  let pending: Promise<{ budget: Sums; spent: Sums }> | undefined;
  const read = () => {
    pending ??= (async () => {
      const budget: Sums = new Map();
      const spent: Sums = new Map();
      for (const t of await tenants.list()) {
        const label = metrics.tenantLabel(t.name);
        const limits = { day: t.dailyUsd, month: t.monthlyUsd };
        for (const p of budgetPeriods) {
          add(spent, label, p, t.spentUsd[p]);
          const b = limits[p];
          if (b !== null) add(budget, label, p, b);
        }
      }
      return { budget, spent };
    })().finally(() => {
      setImmediate(() => {
        pending = undefined;
      });
    });
    return pending;
  };
  const fill = (g: Gauge<'tenant' | 'period'>, sums: Sums) => {
    g.reset();
    for (const [tenant, row] of sums)
      for (const p of budgetPeriods) {
        const v = row[p];
        if (v !== undefined) g.set({ tenant, period: p }, v);
      }
  };
  new Gauge({
    name: 'promptq_tenant_budget_usd',
    help: "Tenants' budgets in US dollars per UTC day and month (queue-wide; absent when none is set).",
    labelNames: ['tenant', 'period'] as const,
    registers: [metrics.registry],
    async collect() {
      fill(this, (await read()).budget);
    },
  });
  new Gauge({
    name: 'promptq_tenant_spent_usd',
    help: "Tenants' spend in US dollars in the current UTC day and month (queue-wide).",
    labelNames: ['tenant', 'period'] as const,
    registers: [metrics.registry],
    async collect() {
      fill(this, (await read()).spent);
    },
  });
}
