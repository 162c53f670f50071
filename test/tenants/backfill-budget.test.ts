import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { reserveBudget, settleBudget } from '../../src/store/budget-store.js';
import { Keyspace } from '../../src/store/keys.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { spawnCli } from '../helpers/cli.js';
import { uniqueQueue } from '../helpers/stack.js';

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
