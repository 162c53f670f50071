/**
 * One tenant's budget under concurrent live AND Message Batches load (issue 28, done-when): two
 * worker processes' worth of workers, each with its batch collector, run jobs of one tenant routed
 * `live` and `batch` at once. Spend is judged by what the SIMULATOR served — its live answers
 * (`onServed`) and its batches' results read back through the official SDK — priced here from
 * prices.json (test/budget/served.ts), not by promptq's own spend figures:
 *
 * - never over the budget, and within one call of it;
 * - no job refused `budget_exceeded` while it could still fit: each refused job's worst case is
 *   more than what the budget had left at the end;
 * - the same load for a tenant with no budget is served well past it (the control);
 * - the admission boundary from both sides on the batch route: a job whose worst case is exactly
 *   the room left is batched and served; one nano-USD less room and it is refused, unserved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { validateJob } from '../../src/core/job.js';
import { defaultJobLimits } from '../../src/core/job-schema.js';
import type { JobRecord } from '../../src/core/record.js';
import { worstCaseCost } from '../../src/core/worst-case.js';
import { type RunningWorker, startWorker } from '../../src/ops/start-worker.js';
import { batchCustomId } from '../../src/producer/backfill/batch-requests.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import { readSpend, toNano } from '../../src/store/budget-store.js';
import { scopedJobId } from '../../src/store/keys.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { batchServed, servedLedger } from '../budget/served.js';
import { uniqueQueue } from '../helpers/stack.js';
import { testRedis, testSettings } from '../helpers/topology.js';

const jobsPerRoute = 24;
const budgetUsd = 0.025;
const body = (tenant: string, route: 'live' | 'batch', i: number) => ({
  id: `${route}-${i}`,
  model: 'claude-haiku-4-5',
  // At most about $0.0026 batched and $0.0011 live: the live jobs' smaller worst case fits what the
  // batches leave, so both routes spend whatever their order.
  max_tokens: route === 'batch' ? 1000 : 200,
  prompt: `${route} question ${i} for ${tenant}`,
  tenant_id: tenant,
  ...(route === 'batch' ? { deadline: '1h', route: 'batch' } : {}),
});
const prices = new PriceTable();
/** Batches take a minute at most until measured; the lane is sent every collector tick. */
const routing = {
  batchTurnaroundSeconds: 60,
  batchMaxAgeSeconds: 0,
  collectorIntervalMs: 200,
  collectorLeaseMs: 5000,
};
/** A job's worst case on a route, as the budget holds it. */
const worst = (request: Record<string, unknown>, batch: boolean) => {
  const w = worstCaseCost(validateJob(request, defaultJobLimits).request, prices, { batch });
  if (w.kind !== 'priced') throw new Error('unpriced');
  return w.usd;
};

describe('one budget under concurrent live and Batches load (the simulator served, priced independently)', () => {
  let sim: Simulator;
  const ledger = servedLedger();
  const redis = testRedis();
  const queue = uniqueQueue();
  const q = new PromptQueue({ ...testSettings(), queue, connection: redis, routing });
  const workers: RunningWorker[] = [];

  beforeAll(async () => {
    sim = await startSimulator({
      seed: 11,
      onServed: ledger.onServed,
      // Answers of 30–70% of max_tokens: a call costs well under what it holds, so the holds in
      // flight stand in the way of calls that fit once they settle.
      output: { minFraction: 0.3, maxFraction: 0.7, cap: 100_000 },
      msPerToken: 0.002,
      // Slow live calls: many in flight at once, holding the budget while others ask.
      latencyMs: 300,
      limits: { rpm: 100_000, itpm: 100_000_000, otpm: 100_000_000 },
      batches: { processingSeconds: 1 },
    });
    for (let i = 0; i < 2; i++) {
      workers.push(
        await startWorker({
          queue,
          ...testSettings(),
          connection: testRedis(),
          anthropic: { apiKey: 'k', baseUrl: sim.url },
          worker: { concurrency: 8 },
          routing,
        }),
      );
    }
  }, 90_000);
  afterAll(async () => {
    for (const w of workers) await w.close();
    await q.queue.obliterate({ force: true });
    await q.close();
    redis.disconnect();
    await sim.close();
  });

  /** Wait until each job is completed or failed; their views. */
  async function settle(jobs: ReadonlyArray<{ id: string; tenant_id: string }>, ms = 120_000) {
    const until = Date.now() + ms;
    for (;;) {
      const views = await Promise.all(jobs.map((j) => q.get({ id: j.id, tenant: j.tenant_id })));
      if (views.every((v) => v?.state === 'completed' || v?.state === 'failed')) return views.map((v) => v!);
      if (Date.now() > until) throw new Error('jobs did not finish in time');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** What the simulator served a tenant: live answers and batch results, each at its list price. */
  async function served(tenant: string, ids: readonly string[]) {
    const mine = new Set(ids.map((id) => batchCustomId(scopedJobId(id, tenant))));
    const batch = (await batchServed(sim.url)).filter((r) => mine.has(r.customId));
    const live = ledger.to(tenant);
    const liveUsd = ledger.spendOf(tenant);
    const batchUsd = batch.reduce((n, r) => n + r.usd, 0);
    return { usd: liveUsd + batchUsd, liveCalls: live.length, batchCalls: batch.length };
  }

  it('spend ends within one call of the budget and never over; nothing refused that could fit; the control passes it', async () => {
    await new TenantStore(redis, q.keys).add('capped', { dailyUsd: budgetUsd, onExceed: 'fail' });
    // The batched jobs first, the live ones as the collector sends them: both routes hold at once.
    const of = (route: 'live' | 'batch') =>
      ['capped', 'free'].flatMap((t) => Array.from({ length: jobsPerRoute }, (_, i) => body(t, route, i)));
    const bodies = [...of('batch'), ...of('live')];
    await q.addBatch(of('batch'));
    await new Promise((r) => setTimeout(r, 150));
    await q.addBatch(of('live'));
    const views = await settle(bodies);
    const ids = bodies.filter((b) => b.tenant_id === 'capped').map((b) => b.id);
    const capped = views.filter((v) => v.request.tenant_id === 'capped');
    const refused = capped.filter((v) => v.state === 'failed');
    const s = await served('capped', ids);
    const control = await served('free', ids);
    const spent = (await readSpend(redis, q.keys, ['capped'])).get('capped')?.day ?? 0;
    const left = budgetUsd - s.usd;
    // What each refused job needed on its own route: a batched job fits at the Batches price.
    const needed = refused.map((v) => {
      const request = v.request as unknown as Record<string, unknown>;
      return worst(request, request.route === 'batch');
    });
    const oneCall = Math.max(
      ...capped.map((v) => worst(v.request as unknown as Record<string, unknown>, false)),
    );
    console.info(
      `budget $${budgetUsd}: served $${s.usd.toFixed(9)} (${s.liveCalls} live calls, ${s.batchCalls} batch results), left $${left.toFixed(9)}; ${refused.length} refused, the cheapest needed $${Math.min(...needed).toFixed(9)}; promptq's spend $${spent.toFixed(9)}; the control was served $${control.usd.toFixed(6)}`,
    );

    // The control: without a budget the same load is served well past it, through both routes.
    expect(views.filter((v) => v.request.tenant_id === 'free').every((v) => v.state === 'completed')).toBe(
      true,
    );
    expect(control.usd).toBeGreaterThan(budgetUsd * 1.5);
    expect(control.batchCalls).toBeGreaterThan(0);
    // Both routes really spent the capped tenant's budget.
    expect(s.liveCalls).toBeGreaterThan(0);
    expect(s.batchCalls).toBeGreaterThan(0);
    expect(capped.some((v) => (v.record as JobRecord).route === 'batch' && v.state === 'completed')).toBe(
      true,
    );
    // A batched job the holds in flight stood in the way of waited in the lane for them, as a live
    // call does: none ran live at twice the price (its deadline, an hour away, never forced it).
    const batched = capped.filter((v) => v.request.route === 'batch' && v.state === 'completed');
    expect(batched.map((v) => (v.record as JobRecord).route)).toEqual(batched.map(() => 'batch'));
    // Refused unmade, with budget_exceeded.
    expect(refused.length).toBeGreaterThan(0);
    for (const v of refused) {
      expect((v.record as JobRecord).error_type).toBe('budget_exceeded');
      expect((v.record as JobRecord).attempts).toBe(0);
    }
    // Never over; within one call; and no job refused while it could still fit.
    expect(s.usd).toBeLessThanOrEqual(budgetUsd);
    expect(left).toBeLessThan(oneCall);
    for (const n of needed) expect(n).toBeGreaterThan(left);
    // promptq's own figure agrees with what was served (nano-USD rounding per call), nothing held.
    expect(Math.abs(spent - s.usd)).toBeLessThanOrEqual((s.liveCalls + s.batchCalls) * 2e-9);
    expect(await redis.hlen(q.keys.budgetHolds('capped'))).toBe(0);
  }, 180_000);

  it('the batch route at its boundary: room of exactly the worst case is batched and served; 1 nano-USD less is refused, unserved', async () => {
    const store = new TenantStore(redis, q.keys);
    await store.add('edge', { dailyUsd: 1, onExceed: 'fail' });
    const probe = (i: number) => body('edge', 'batch', 100 + i);
    const w = toNano(worst(probe(0), true));
    expect(toNano(worst(probe(1), true))).toBe(w);
    // Something spent first, live and batched, so the room is what is left of a spend.
    await q.addBatch([body('edge', 'live', 0), body('edge', 'batch', 0)]);
    await settle([body('edge', 'live', 0), body('edge', 'batch', 0)]);
    const spentNano = async () => toNano((await readSpend(redis, q.keys, ['edge'])).get('edge')?.day ?? 0);

    // Exactly the room: held at the Batches price, batched, served.
    await store.set('edge', { dailyUsd: (((await spentNano()) + w) as number) / 1e9 });
    await q.add(probe(0));
    const [fits] = await settle([probe(0)]);
    expect(fits?.state).toBe('completed');
    expect((fits!.record as JobRecord).route).toBe('batch');

    // One nano-USD less room: refused at the hold, and live (its worst case twice that) too.
    await store.set('edge', { dailyUsd: ((await spentNano()) + w - 1) / 1e9 });
    const before = await served('edge', ['batch-100', 'batch-101']);
    await q.add(probe(1));
    const [over] = await settle([probe(1)]);
    expect(over?.state).toBe('failed');
    expect((over!.record as JobRecord).error_type).toBe('budget_exceeded');
    const after = await served('edge', ['batch-100', 'batch-101']);
    expect(after.batchCalls).toBe(before.batchCalls);
    expect(after.liveCalls).toBe(before.liveCalls);
    expect(before.batchCalls).toBe(1);
    expect(await redis.hlen(q.keys.budgetHolds('edge'))).toBe(0);
  }, 120_000);
});
