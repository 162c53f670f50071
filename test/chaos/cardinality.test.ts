/**
 * Bounded cardinality: 10,000 made-up model names through a job processor with the real limiter (on
 * real Redis), the metrics and the dashboard rollups. /metrics, the rollups, the limiter's Redis
 * keys and the groups a worker keeps reading must stay small. The control is an uncapped Metrics
 * fed by the same events: it grows with every name.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { defaultJobLimits } from '../../src/core/job-schema.js';
import { PromptqEvents } from '../../src/events/emitter.js';
import { RateLimiter } from '../../src/limiter/limiter.js';
import { readDashboard } from '../../src/ops/dashboard/summary.js';
import { Metrics } from '../../src/ops/metrics/metrics.js';
import { RollupWriter } from '../../src/ops/metrics/rollups.js';
import { subscribeWorkerMetrics } from '../../src/ops/metrics/worker-metrics.js';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import { Keyspace } from '../../src/store/keys.js';
import { JobProcessor } from '../../src/worker/core.js';
import { uniqueQueue } from '../helpers/stack.js';
import { fakeClient, fakeJob, memoryRecords } from '../worker/fakes.js';

const names = 10_000;

/** The API's rate-limit headers, announcing limits far above anything this test sends. */
function bigLimits(): Record<string, string> {
  const reset = new Date(Date.now() + 60_000).toISOString();
  const h: Record<string, string> = {};
  for (const r of ['requests', 'input-tokens', 'output-tokens']) {
    h[`anthropic-ratelimit-${r}-limit`] = '100000000';
    h[`anthropic-ratelimit-${r}-remaining`] = '100000000';
    h[`anthropic-ratelimit-${r}-reset`] = reset;
  }
  return h;
}

describe('bounded cardinality: 10,000 model names', () => {
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  afterAll(() => redis.disconnect());

  it('/metrics, rollups, limiter keys and the groups read stay bounded', async () => {
    const account = `card-${randomUUID().slice(0, 8)}`;
    const queue = uniqueQueue();
    const keyspace = new Keyspace({ queue });
    const limiter = new RateLimiter({ redis, account, keys: keyspace, config: defaults.limiter });
    const capped = new Metrics({ defaultMetrics: false });
    const uncapped = new Metrics({
      defaultMetrics: false,
      labels: { ...defaults.labels, maxModels: 1_000_000 },
    });
    const rollups = new RollupWriter({
      connection: redis,
      keys: keyspace,
      retention: defaults.rollups,
      tenantLabel: (t) => capped.tenantLabel(t),
      modelLabel: (m) => capped.modelLabel(m),
    });
    const events = new PromptqEvents();
    subscribeWorkerMetrics(events, capped);
    subscribeWorkerMetrics(events, uncapped);
    events.on('finished', (e) => rollups.record(e.jobId, e.status, e.record));
    const p = new JobProcessor({
      ...defaults.worker,
      // Limits announced far above the load: the limiter paces nothing, so no job is deferred.
      provider: fakeClient([], bigLimits()).provider,
      limiter,
      records: memoryRecords().port,
      prices: new PriceTable(),
      events,
      maxAttempts: 1,
      maxRateLimited: 1,
      requestTimeoutMs: 5000,
      jobLimits: defaultJobLimits,
    });
    const t0 = Date.now();
    for (let i = 0; i < names; i += 250) {
      await Promise.all(
        Array.from({ length: 250 }, (_, k) =>
          p.process(
            fakeJob({ model: `bogus-model-${i + k}`, max_tokens: 16, prompt: 'hi' }, { id: `j${i + k}` }),
            't',
          ),
        ),
      );
    }
    const ms = Date.now() - t0;

    const text = await capped.text();
    const control = await uncapped.text();
    // Control: every name makes its series when nothing caps them.
    expect(control.length).toBeGreaterThan(5_000_000);
    expect(text.length).toBeLessThan(400_000);
    console.log(
      `${names} models in ${ms} ms: /metrics ${text.length} bytes capped, ${control.length} uncapped`,
    );
    // Exactly the cap's named models and `other`, in /metrics and on the dashboard.
    const cap = defaults.labels.maxModels;
    const modelLabels = new Set([...text.matchAll(/model="([^"]*)"/g)].map((m) => m[1]!));
    expect(modelLabels.size).toBe(cap + 1);
    expect(modelLabels).toContain('other');
    expect(modelLabels).toContain('bogus-model-0');
    expect(modelLabels).not.toContain(`bogus-model-${names - 1}`);

    // The dashboard (its rollups are written off the jobs' path): the same labels, every job counted.
    await events.idle();
    const d = await readDashboard(redis, keyspace, 60);
    expect(d.totals.jobs).toBe(names);
    expect(new Set(Object.keys(d.models))).toEqual(modelLabels);
    expect(d.models.other?.jobs).toBe(names - cap);
    expect(JSON.stringify(d).length).toBeLessThan(200_000);

    // The limiter: one group for every unknown name, its key expiring.
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `promptq:limiter:${account}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    expect(keys).toEqual([`promptq:limiter:${account}:other`]);
    const ttl = await redis.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(86_400_000);
    expect(limiter.groupsInUse).toBe(1);

    // Idle groups leave memory and the concurrency tuner's reads.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + defaults.limiter.idleGroupMs + 1000);
      await limiter.requestRate();
      expect(limiter.groupsInUse).toBe(0);
    } finally {
      vi.useRealTimers();
    }
    await limiter.close();
    await redis.del(...keys);
  }, 180_000);
});
