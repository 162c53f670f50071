import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../scripts/bench/measure.js';
import { medianOf, medianResult } from '../../scripts/bench/median.js';
import { bullmqPriority } from '../../scripts/bench/run-bullmq.js';
import { workerEnv } from '../../scripts/bench/run-promptq.js';
import { bottleneckJobOptions } from '../../scripts/bench/run-sdk.js';
import { buildScenario } from '../../scripts/bench/scenarios.js';
import type { BenchJob, RunContext } from '../../scripts/bench/types.js';

const run = (over: Partial<RunResult>): RunResult =>
  ({
    approach: 'promptq',
    label: 'promptq',
    jobs: 10,
    completed: 10,
    failed: 0,
    unfinished: 0,
    elapsedS: 10,
    idealS: 9,
    throughputShare: 0.9,
    served: { requests: 10, rateLimited: 0 },
    simulator: { requests: 10, rateLimited: 0, succeeded: 10 },
    rateLimitedShare: 0,
    p50Ms: 100,
    p95Ms: 200,
    ...over,
  }) as RunResult;

describe('bench rounds: the median of each figure', () => {
  it('takes each figure from its own middle round, not the best one', () => {
    const m = medianResult([
      run({ throughputShare: 0.99, rateLimitedShare: 0.05, p95Ms: 900 }),
      run({ throughputShare: 0.5, rateLimitedShare: 0.0, p95Ms: 100 }),
      run({ throughputShare: 0.8, rateLimitedShare: 0.02, p95Ms: 300 }),
    ]);
    expect(m.throughputShare).toBe(0.8);
    expect(m.rateLimitedShare).toBe(0.02);
    expect(m.p95Ms).toBe(300);
    expect(m.rounds).toBe(3);
  });

  it('a failed job in any round stays in the row', () => {
    const m = medianResult([run({}), run({ failed: 1, completed: 9 }), run({})]);
    expect(m.failed).toBe(1);
    expect(m.completed).toBe(9);
  });

  it('a figure missing in most rounds has no median', () => {
    expect(medianOf([null, null, 0.9])).toBeNull();
    expect(medianOf([null, 0.8, 0.9])).toBeCloseTo(0.85, 10);
    expect(medianOf([0.7])).toBe(0.7);
  });
});

describe('bench alternatives, configured as a careful user would', () => {
  const job = (tenant: string | undefined, inputTokens: number) => ({ tenant, inputTokens }) as BenchJob;
  const ctx = (over: Partial<RunContext>) => ({ workers: 1, ...over }) as RunContext;

  it('Bottleneck weighs each job by its input tokens where tokens bind, and only there', () => {
    expect(bottleneckJobOptions(ctx({ tokensPerSecond: 9_000 }), job(undefined, 1_234))).toEqual({
      weight: 1_234,
    });
    expect(bottleneckJobOptions(ctx({}), job(undefined, 1_234))).toEqual({});
  });

  it('BullMQ and Bottleneck serve the urgent tenant first where tenants compete, and never leave a job without a priority', () => {
    const c = ctx({ urgentTenant: 'interactive' });
    expect(bottleneckJobOptions(c, job('interactive', 1)).priority).toBeLessThan(
      bottleneckJobOptions(c, job('backfill', 1)).priority!,
    );
    // BullMQ: 1 is served first; a job with no priority would overtake every prioritized one.
    expect(bullmqPriority(c, job('interactive', 1))).toEqual({ priority: 1 });
    expect(bullmqPriority(c, job('backfill', 1))).toEqual({ priority: 2 });
    expect(bullmqPriority(ctx({}), job('backfill', 1))).toEqual({});
  });
});

describe('bench S12: promptq sizes its own slots', () => {
  const where = { redisUrl: 'redis://x', simUrl: 'http://x', queue: 'q', concurrency: 150 };

  it('S12 runs promptq with no PROMPTQ_CONCURRENCY (its tuner chooses); elsewhere it gets the same fixed slots as the others (the control)', () => {
    expect(buildScenario('S12', { jobs: 10, quick: true }).adaptiveConcurrency).toBe(true);
    expect(buildScenario('S3', { jobs: 10, quick: true }).adaptiveConcurrency).toBeUndefined();
    expect(workerEnv({ ...where, adaptiveConcurrency: true })).not.toHaveProperty('PROMPTQ_CONCURRENCY');
    expect(workerEnv(where).PROMPTQ_CONCURRENCY).toBe('150');
  });
});
