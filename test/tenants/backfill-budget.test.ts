import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { batchCustomId } from '../../src/producer/backfill/batch-requests.js';
import type { BatchRunSummary } from '../../src/producer/backfill/batch-types.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { readSpend, reserveBudget, settleBudget } from '../../src/store/budget-store.js';
import { Keyspace, scopedJobId } from '../../src/store/keys.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { batchServed, servedLedger } from '../budget/served.js';
import { spawnCli } from '../helpers/cli.js';
import { type Stack, startStack, testApiKey, uniqueQueue } from '../helpers/stack.js';
import { testSettings } from '../helpers/topology.js';

describe('promptq backfill --dry-run and tenant budgets', () => {
  const redis = new Redis(inject('redisUrl'));
  const dir = mkdtempSync(join(tmpdir(), 'promptq-budget-'));
  afterAll(() => {
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says per tenant whether the file fits what is left of its budgets', async () => {
    const queue = uniqueQueue();
    const k = new Keyspace({ queue: queue });
    const store = new TenantStore(redis, k);
    // 10 jobs × 1000 max_tokens of haiku: at most about $0.05 per tenant.
    await store.add('roomy', { dailyUsd: 10 });
    await store.add('tight', { dailyUsd: 1, monthlyUsd: 100, onExceed: 'fail' });
    const spent = await reserveBudget(redis, k, 'tight', 0.98, { id: 'x', holdMs: 60_000 });
    if (spent.kind !== 'held') throw new Error('held');
    await settleBudget(redis, k, spent.hold, 0.98);
    const lines = ['roomy', 'tight', 'stranger'].flatMap((tenant) =>
      Array.from({ length: 10 }, (_, i) =>
        JSON.stringify({
          model: 'claude-haiku-4-5',
          max_tokens: 1000,
          prompt: `line ${i}`,
          tenant_id: tenant,
        }),
      ),
    );
    const path = join(dir, 'jobs.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const env = { REDIS_URL: inject('redisUrl'), PROMPTQ_QUEUE: queue };

    const json = spawnCli(['backfill', '--dry-run', '--json', path], env);
    expect(await json.exited).toBe(0);
    const e = JSON.parse(json.stdout());
    const by = Object.fromEntries(e.budgets.map((b: { tenant: string }) => [b.tenant, b]));
    expect(by.roomy).toMatchObject({ jobs: 10, fits: true, remainingUsd: { day: 10, month: null } });
    expect(by.tight).toMatchObject({ jobs: 10, fits: false, onExceed: 'fail' });
    expect(by.tight.remainingUsd.day).toBeCloseTo(0.02, 9);
    expect(by.tight.estimatedUsd).toBeGreaterThan(0.02);
    expect(by.stranger).toMatchObject({ fits: null });

    const text = spawnCli(['backfill', '--dry-run', path], env);
    expect(await text.exited).toBe(0);
    expect(text.stdout()).toMatch(
      /tenant "roomy": 10 jobs, about \$0\.\d+ \(at most \$0\.\d+\): fits its remaining budget \(\$10\.00 left today\)/,
    );
    expect(text.stdout()).toMatch(
      /tenant "tight": .*does NOT fit its remaining budget \(\$0\.0200 left today, \$99\.02 left this month\); the jobs past it will fail with budget_exceeded/,
    );
    expect(text.stdout()).toMatch(/tenant "stranger": .*; no budget/);
    expect(await redis.exists(k.bullmq('id'))).toBe(0); // nothing enqueued
  });
});

describe('promptq backfill --via batches --tenant: the budget holds there too (issue 23 item 5, 28 item 4)', () => {
  const redis = new Redis(inject('redisUrl'));
  const dir = mkdtempSync(join(tmpdir(), 'promptq-batch-budget-'));
  const ledger = servedLedger();
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({
      sim: {
        onServed: ledger.onServed,
        // Answers run to max_tokens: a request costs its worst case's output.
        output: { minFraction: 1, maxFraction: 1, cap: 100_000 },
        msPerToken: 0.002,
        batches: { processingSeconds: 1 },
      },
      parts: { api: false, worker: true },
    });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What the simulator's batches answered for the 20 lines `prefix`0…19 of `tenant`, at half price. */
  async function batchSpend(prefix: string, tenant: string): Promise<{ usd: number; requests: number }> {
    const mine = new Set(
      Array.from({ length: 20 }, (_, i) => batchCustomId(scopedJobId(`${prefix}${i}`, tenant))),
    );
    const served = (await batchServed(s.sim.url, testApiKey)).filter((r) => mine.has(r.customId));
    return { usd: served.reduce((n, r) => n + r.usd, 0), requests: served.length };
  }

  async function backfill(tenant: string, prefix: string) {
    const lines = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({
        custom_id: `${prefix}${i}`,
        params: {
          model: 'claude-haiku-4-5',
          max_tokens: 1000,
          messages: [{ role: 'user', content: `line ${i}` }],
        },
      }),
    );
    const path = join(dir, `${prefix}.jsonl`);
    writeFileSync(path, `${lines.join('\n')}\n`);
    const cli = spawnCli(['backfill', path, '--via', 'batches', '--tenant', tenant, '--wait', '--json'], {
      REDIS_URL: inject('redisUrl'),
      PROMPTQ_QUEUE: s.config.queue,
      ANTHROPIC_API_KEY: testApiKey,
      ANTHROPIC_BASE_URL: s.sim.url,
    });
    await cli.exited;
    return JSON.parse(cli.stdout()) as { batches: BatchRunSummary };
  }

  it("batched lines are held and charged to the tenant; the ones that do not fit go live and fail there; the simulator's count stays under the budget", async () => {
    const budget = 0.01;
    // Each line: 1,000 output tokens at the Batches price of Haiku 4.5 ($2.50/M) is $0.0025.
    await new TenantStore(redis, s.svc.queue.keys).add('batcher', { dailyUsd: budget, onExceed: 'fail' });

    // The control: the same file for a tenant with no budget is served past it, all in batches.
    const control = await backfill('no-budget', 'free-');
    expect(control.batches).toMatchObject({ submitted: 20, over_budget_live: 0 });
    expect((await batchSpend('free-', 'no-budget')).usd).toBeGreaterThan(budget);

    const { batches } = await backfill('batcher', 'cap-');
    const inBatches = await batchSpend('cap-', 'batcher');
    const live = ledger.spendOf('batcher');
    const spent = (await readSpend(redis, s.svc.queue.keys, ['batcher'])).get('batcher')!.day;
    console.info(
      `batches: ${batches.submitted} lines held and batched, ${batches.over_budget_live} sent live; served $${inBatches.usd.toFixed(6)} in batches + $${live.toFixed(6)} live against $${budget}; promptq charged $${spent.toFixed(6)}`,
    );
    // By the simulator's count: never over, and the tenant's spend is what was served.
    expect(inBatches.usd + live).toBeLessThanOrEqual(budget);
    expect(batches.submitted).toBeGreaterThan(0);
    expect(batches.over_budget_live).toBe(20 - batches.submitted);
    expect(batches.over_budget_live).toBeGreaterThan(0);
    expect(Math.abs(spent - (inBatches.usd + live))).toBeLessThanOrEqual(20 * 2e-9);
    expect(await redis.hlen(s.svc.queue.keys.budgetHolds('batcher'))).toBe(0);
  }, 120_000);

  it('one budget under concurrent live and Batches load: within one call of it, never over, by the simulator count', async () => {
    const budget = 0.02;
    await new TenantStore(redis, s.svc.queue.keys).add('mixed', { dailyUsd: budget, onExceed: 'fail' });
    const q = new PromptQueue({ ...testSettings(), queue: s.config.queue });
    try {
      // 20 live jobs ($0.005 each at most) and 20 batched lines ($0.0025 each) at once.
      const live = q.addBatch(
        Array.from({ length: 20 }, (_, i) => ({
          model: 'claude-haiku-4-5',
          max_tokens: 1000,
          prompt: `live ${i}`,
          tenant_id: 'mixed',
        })),
      );
      const [{ ids }, { batches }] = await Promise.all([live, backfill('mixed', 'mix-')]);
      for (;;) {
        const views = await Promise.all(ids.map((id) => q.get(id)));
        if (views.every((v) => v?.state === 'completed' || v?.state === 'failed')) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const served = (await batchSpend('mix-', 'mixed')).usd + ledger.spendOf('mixed');
      const spent = (await readSpend(redis, s.svc.queue.keys, ['mixed'])).get('mixed')!.day;
      // The most one of these calls may cost: a live one (the batched ones cost half).
      const oneCall = (1000 * 5 + 200 * 2) / 1e6;
      console.info(
        `live + batches: ${batches.submitted} batched, ${ledger.to('mixed').length} served live; served $${served.toFixed(6)} of $${budget}, promptq charged $${spent.toFixed(6)}`,
      );
      expect(served).toBeLessThanOrEqual(budget);
      expect(budget - served).toBeLessThan(oneCall);
      expect(Math.abs(spent - served)).toBeLessThanOrEqual(40 * 2e-9);
      expect(await redis.hlen(s.svc.queue.keys.budgetHolds('mixed'))).toBe(0);
    } finally {
      await q.close();
    }
  }, 180_000);
});
