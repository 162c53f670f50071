import { DelayedError, UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { defaultJobLimits } from '../../src/core/job-schema.js';
import { newRecord } from '../../src/core/record.js';
import { PromptqEvents } from '../../src/events/emitter.js';
import type { Deferral } from '../../src/limiter/types.js';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import type { BudgetAdmission, BudgetHold } from '../../src/store/budget-store.js';
import type { BudgetPort } from '../../src/worker/budget.js';
import { JobProcessor } from '../../src/worker/core.js';
import { judgeBudget } from '../../src/worker/outcome.js';
import { type Answer, fakeClient, fakeJob, fakeLimiter, memoryRecords } from './fakes.js';

const body = { model: 'claude-haiku-4-5', max_tokens: 100, prompt: 'hi', tenant_id: 'acme' };
const over = (onExceed: 'wait' | 'fail'): Extract<BudgetAdmission, { kind: 'over' }> => ({
  kind: 'over',
  period: 'day',
  spentUsd: 0.5,
  heldUsd: 0.4,
  budgetUsd: 1,
  onExceed,
});

/** A budget port that answers `admission` and records what it was asked. */
function fakeBudgets(admission: BudgetAdmission) {
  const reserved: Array<{ tenant: string; usd: number | null }> = [];
  const settled: Array<{ hold: BudgetHold; usd: number }> = [];
  const port: BudgetPort = {
    reserve: async (tenant, usd) => {
      reserved.push({ tenant, usd });
      return admission;
    },
    settle: async (hold, usd) => {
      settled.push({ hold, usd });
    },
    quotaOf: async (tenant) => ({ id: `q/${tenant}`, share: 0.25 }),
  };
  return { port, reserved, settled };
}

function processor(budgets: BudgetPort, script: Answer[] = [], deferrals: Deferral[] = []) {
  const c = fakeClient(script);
  const lim = fakeLimiter(deferrals);
  const events = new PromptqEvents();
  const seen: string[] = [];
  for (const e of ['attempt', 'budget', 'quota', 'failed'] as const)
    events.on(e, (x: { outcome: { kind: string } }) => seen.push(`${e}:${x.outcome.kind}`));
  const p = new JobProcessor({
    ...defaults.worker,
    provider: c.provider,
    limiter: lim.limiter,
    records: memoryRecords().port,
    prices: new PriceTable(),
    events,
    maxAttempts: 3,
    maxRateLimited: 2,
    requestTimeoutMs: 5000,
    jobLimits: defaultJobLimits,
    budgets,
    budgetWait: { heldMs: 2000, spentMs: 60_000 },
    random: () => 0.5,
  });
  return { p, calls: c.calls, seen, plans: lim.plans };
}

const hold: BudgetHold = { tenant: 'acme', id: 'h', day: '2026-11-27', month: '2026-11', at: 0 };

describe('job processor and tenant budgets (fake port)', () => {
  it('holds the worst case, calls, settles to the real cost', async () => {
    const b = fakeBudgets({ kind: 'held', hold });
    const { p } = processor(b.port, [{ ok: true, input: 20, output: 9 }]);
    const r = await p.process(fakeJob(body), 'tok');
    // The input's upper bound (64 per request + 16 per message + 2 bytes) at the 1-hour
    // cache-write rate ($2/M) + 100 output tokens at $5/M.
    expect(b.reserved).toEqual([{ tenant: 'acme', usd: (82 * 2 + 100 * 5) / 1e6 }]);
    expect(b.settled).toEqual([{ hold, usd: r.record.cost_usd }]);
  });

  it('a failed call settles to nothing; a job without tenant asks no budget', async () => {
    const b = fakeBudgets({ kind: 'held', hold });
    const { p } = processor(b.port, [{ status: 400, type: 'invalid_request_error' }]);
    await expect(p.process(fakeJob(body), 'tok')).rejects.toBeInstanceOf(UnrecoverableError);
    expect(b.settled).toEqual([{ hold, usd: 0 }]);
    const none = fakeBudgets({ kind: 'held', hold });
    const { tenant_id: _, ...anonymous } = body;
    await processor(none.port).p.process(fakeJob(anonymous), 'tok');
    expect(none.reserved).toEqual([]);
  });

  it('over budget, waiting: delayed, no call, no attempt, a budget event', async () => {
    const b = fakeBudgets(over('wait'));
    const { p, calls, seen } = processor(b.port);
    const job = fakeJob(body);
    await expect(p.process(job, 'tok')).rejects.toBeInstanceOf(DelayedError);
    expect(calls).toEqual([]);
    expect(seen).toEqual(['budget:over_budget']);
    // Spend + worst case fits once the holds settle: ask again soon (2 s, jittered ×[0.8, 1.2)).
    const until = (job.moveToDelayed.mock.calls[0]?.[0] ?? 0) - Date.now();
    expect(until).toBeGreaterThan(1500);
    expect(until).toBeLessThanOrEqual(2000);
    expect(b.settled).toEqual([]);
  });

  it('failing over budget, with calls in flight that hold the room: the job waits for them to settle', async () => {
    // $0.50 spent + this call fits $1.00 once the $0.40 held settles: not refused for good.
    const b = fakeBudgets(over('fail'));
    const { p, calls, seen } = processor(b.port);
    const job = fakeJob(body);
    await expect(p.process(job, 'tok')).rejects.toBeInstanceOf(DelayedError);
    expect(calls).toEqual([]);
    expect(seen).toEqual(['budget:over_budget']);
    const until = (job.moveToDelayed.mock.calls[0]?.[0] ?? 0) - Date.now();
    expect(until).toBeGreaterThan(1500);
    expect(until).toBeLessThanOrEqual(2000);
  });

  it('over budget, failing, with no room even once everything settles: budget_exceeded, no call, no attempt', async () => {
    const b = fakeBudgets({ ...over('fail'), spentUsd: 1 });
    const { p, calls, seen } = processor(b.port);
    const err = await p.process(fakeJob(body), 'tok').catch((e: Error) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toMatch(
      /^budget exceeded: tenant "acme" is over its daily budget of \$1\.00/,
    );
    expect(calls).toEqual([]);
    expect(seen).toEqual(['budget:budget_exceeded', 'failed:budget_exceeded']);
  });

  it("the tenant's quota goes to the limiter with the call", async () => {
    const b = fakeBudgets({ kind: 'held', hold });
    const { p, plans } = processor(b.port, [{ ok: true, input: 20, output: 9 }]);
    await p.process(fakeJob(body), 'tok');
    expect(plans.map((x) => x.quota)).toEqual([{ id: 'q/acme', share: 0.25 }]);
  });

  it('over quota (the limiter defers): the hold is released, the job delayed, no call, no attempt', async () => {
    const b = fakeBudgets({ kind: 'held', hold });
    const quota: Deferral = {
      deferred: true,
      untilMs: Date.now() + 3000,
      reason: 'quota',
      resource: 'tokens',
    };
    const { p, calls, seen } = processor(b.port, [], [quota]);
    const job = fakeJob(body);
    await expect(p.process(job, 'tok')).rejects.toBeInstanceOf(DelayedError);
    expect(calls).toEqual([]);
    expect(seen).toEqual(['quota:over_quota']);
    expect(b.settled).toEqual([{ hold, usd: 0 }]);
    // Past the wait, spread: 3 s × (1 + 0.5 × 0.5) + 50 ms.
    const until = (job.moveToDelayed.mock.calls[0]?.[0] ?? 0) - Date.now();
    expect(until).toBeGreaterThan(3000);
    expect(until).toBeLessThanOrEqual(3800);
  });

  it('judgeBudget: a spent budget waits for the period end when that comes first', () => {
    const record = newRecord({ model: 'm', max_tokens: 1, messages: [] }, 0);
    const refusal = { ...over('wait'), heldUsd: 0, spentUsd: 0.99, tenant: 't', costUsd: 0.05 } as const;
    const tenSecondsBeforeMidnight = Date.UTC(2026, 10, 27, 23, 59, 50);
    const o = judgeBudget(
      record,
      refusal,
      { heldMs: 2000, spentMs: 60_000 },
      tenSecondsBeforeMidnight,
      () => 0.5,
    );
    expect(o).toMatchObject({ kind: 'over_budget', delayMs: 11_000 });
    const noon = Date.UTC(2026, 10, 27, 12);
    expect(judgeBudget(record, refusal, { heldMs: 2000, spentMs: 60_000 }, noon, () => 0.5)).toMatchObject({
      delayMs: 60_000,
    });
    expect(record.error_type).toBeNull();
  });
});
