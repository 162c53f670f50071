import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { validateJob } from '../../src/core/job.js';
import { defaultJobLimits } from '../../src/core/job-schema.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import { readSpend } from '../../src/store/budget-store.js';
import { bullJobId } from '../../src/store/keys.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { worstCaseCost } from '../../src/worker/budget.js';
import { servedLedger } from '../budget/served.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { get, post, type Stack, startStack, uniqueQueue } from '../helpers/stack.js';
import { redisEnv, testRedis, testSettings } from '../helpers/topology.js';

const budgetUsd = 0.002;
const jobsPerTenant = 60;
const body = (tenant: string, i: number) => ({
  model: 'claude-haiku-4-5',
  max_tokens: 100,
  prompt: `count to ${i}`,
  tenant_id: tenant,
});

/** Wait until every job is completed or failed; their views. */
async function settle(q: PromptQueue, ids: string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const views = await Promise.all(ids.map((id) => q.get(id)));
    if (views.every((v) => v?.state === 'completed' || v?.state === 'failed')) return views.map((v) => v!);
    if (Date.now() > deadline) throw new Error('jobs did not finish in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('budgets under concurrent workers (3 processes)', () => {
  let sim: Simulator;
  const ledger = servedLedger();
  let workers: CliProcess[] = [];
  const queue = uniqueQueue();
  // This run's Redis, whatever its topology.
  const redis = testRedis();
  const q = new PromptQueue({ ...testSettings(), queue });

  beforeAll(async () => {
    sim = await startSimulator({
      seed: 7,
      // Slow calls: many are in flight at once, holding most of the budget while others ask.
      latencyMs: 400,
      // Answers far below max_tokens: a call costs a fraction of what it holds, so the holds of calls
      // in flight fill the budget long before the spend does.
      output: { minFraction: 0.05, maxFraction: 0.15 },
      onServed: ledger.onServed,
    });
    workers = [0, 1, 2].map(() =>
      spawnCli(['worker'], {
        ...redisEnv(),
        ANTHROPIC_API_KEY: 'sk-ant-hammer',
        ANTHROPIC_BASE_URL: sim.url,
        PROMPTQ_QUEUE: queue,
        PORT: '0',
        PROMPTQ_CONCURRENCY: '8',
      }),
    );
    await Promise.all(workers.map((w) => w.waitForLog((l) => l.msg === 'promptq running', 60_000)));
  }, 90_000);

  afterAll(async () => {
    for (const w of workers) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await q.close();
    redis.disconnect();
    await sim.close();
  });

  it('spend ends within one call of the budget and never over it, by the simulator count; the same load without a budget passes it (control)', async () => {
    const store = new TenantStore(redis, q.keys);
    await store.add('capped', { dailyUsd: budgetUsd, onExceed: 'fail' });
    // "free" has no tenant record: the control, no budget enforced on the same load.
    const bodies = Array.from({ length: jobsPerTenant }, (_, i) => [
      body('capped', i),
      body('free', i),
    ]).flat();
    const { ids } = await q.addBatch(bodies);
    const views = await settle(q, ids, 90_000);

    const capped = views.filter((v) => v.request.tenant_id === 'capped');
    const free = views.filter((v) => v.request.tenant_id === 'free');
    const completed = capped.filter((v) => v.state === 'completed');
    const refused = capped.filter((v) => v.state === 'failed');
    // What the simulator served each tenant, priced from prices.json: not promptq's records.
    const served = ledger.spendOf('capped');
    const spent = (await readSpend(redis, q.keys, ['capped'])).get('capped')!.day;
    // The most one of these calls may cost: what a job needs room for.
    const oneCall = Math.max(
      ...capped.map((v) => {
        const w = worstCaseCost(validateJob(v.request, defaultJobLimits).request, new PriceTable());
        return w.kind === 'priced' ? w.usd : Number.POSITIVE_INFINITY;
      }),
    );

    // The control: without a budget this load is served well past it.
    expect(free.every((v) => v.state === 'completed')).toBe(true);
    expect(ledger.spendOf('free')).toBeGreaterThan(budgetUsd * 1.5);
    // With it: calls ran until no call could fit, the rest failed unmade with budget_exceeded.
    expect(ledger.to('capped')).toHaveLength(completed.length);
    expect(refused.length).toBeGreaterThan(5);
    for (const v of refused) {
      expect(v.record.error_type).toBe('budget_exceeded');
      expect(v.record.attempts).toBe(0);
      expect(v.error?.type).toBe('budget_exceeded');
    }
    console.info(
      `budget $${budgetUsd}: served $${served.toFixed(9)} over ${completed.length} calls, left $${(budgetUsd - served).toFixed(9)} (one call may cost $${oneCall.toFixed(9)}); control served $${ledger.spendOf('free').toFixed(6)}`,
    );
    // Never over, and within one call of it: no job was refused while it could still fit.
    expect(served).toBeLessThanOrEqual(budgetUsd);
    expect(budgetUsd - served).toBeLessThan(oneCall);
    // promptq's own spend agrees with what was served (nano-USD rounding per call).
    expect(Math.abs(spent - served)).toBeLessThanOrEqual(completed.length * 2e-9);
    // Nothing is left held.
    expect(await redis.hlen(q.keys.budgetHolds('capped'))).toBe(0);
  }, 120_000);
});

describe('over budget with on_exceed wait', () => {
  let s: Stack;
  const ledger = servedLedger();
  beforeAll(async () => {
    s = await startStack({ sim: { onServed: ledger.onServed } });
  });
  afterAll(() => s.close());

  it('the job is delayed without spending an attempt or calling the API, counted in the metrics; a raised budget lets it run', async () => {
    const store = new TenantStore(s.redis, s.svc.queue.keys);
    await store.add('waiter', { dailyUsd: 0 });
    const served = s.sim.stats().requests;
    const r = await post(`${s.url}/v1/jobs`, body('waiter', 1));
    const id = r.body.id as string;
    // Refused at once, put back as delayed; no attempt, no call.
    for (let i = 0; i < 100 && (await s.bull.getJobState(bullJobId(id))) !== 'delayed'; i++)
      await new Promise((res) => setTimeout(res, 50));
    const view = await get(`${s.url}/v1/jobs/${id}`);
    expect(view.body.state).toBe('delayed');
    expect(view.body.record.attempts).toBe(0);
    expect(view.body.record.error_type).toBeNull();
    expect(s.sim.stats().requests).toBe(served);
    expect(ledger.to('waiter')).toEqual([]);
    const metrics = (await get(`${s.url}/metrics`)).body.text as string;
    expect(metrics).toMatch(/promptq_budget_rejections_total\{tenant="waiter"\} 1/);
    expect(metrics).toMatch(/promptq_tenant_budget_usd\{tenant="waiter",period="day"\} 0/);
    expect(metrics).toMatch(/promptq_tenant_spent_usd\{tenant="waiter",period="month"\} 0/);
    expect(metrics).not.toMatch(/promptq_tenant_budget_usd\{tenant="waiter",period="month"\}/);
    const warn = s.logs.find((l) => l.msg === 'over budget: job waits');
    expect(warn).toMatchObject({ job_id: id, tenant_id: 'waiter', period: 'day' });

    // Another tenant is not held up meanwhile.
    const other = await post(`${s.url}/v1/jobs`, body('someone-else', 2));
    expect((await get(`${s.url}/v1/jobs/${other.body.id}?wait=20`)).body.state).toBe('completed');

    await store.set('waiter', { dailyUsd: 1 });
    await (await s.bull.getJob(bullJobId(id)))?.promote();
    const done = await get(`${s.url}/v1/jobs/${id}?wait=20`);
    expect(done.body.state).toBe('completed');
    expect(done.body.record.attempts).toBe(1);
    const spent = (await readSpend(s.redis, s.svc.queue.keys, ['waiter'])).get('waiter')!;
    // Charged what the simulator served it (priced from prices.json), once.
    expect(ledger.to('waiter')).toHaveLength(1);
    expect(spent.day).toBeCloseTo(ledger.spendOf('waiter'), 9);
    const after = (await get(`${s.url}/metrics`)).body.text as string;
    expect(after).toMatch(
      new RegExp(`promptq_tenant_spent_usd\\{tenant="waiter",period="day"\\} ${spent.day}`),
    );
  });
});
