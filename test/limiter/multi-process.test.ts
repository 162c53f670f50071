import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ServedResponse,
  type Simulator,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { uniqueQueue } from '../helpers/stack.js';
import { maxInWindow } from '../helpers/windows.js';

/** Three real worker processes share one API allowance through Redis. */
describe('many workers, one allowance', { timeout: 120_000 }, () => {
  let sim: Simulator;
  let redis: Redis;
  const served: ServedResponse[] = [];
  beforeAll(async () => {
    sim = await startSimulator({
      limits: { rpm: 300, itpm: 0, otpm: 0 },
      shortIntervalSeconds: 1,
      startEmpty: true,
      ttftMs: 50,
      onServed: (r) => served.push(r),
    });
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    redis.disconnect();
    await sim.close();
  });

  it('3 worker processes together stay inside the limit (no 429 after discovery)', async () => {
    const queue = uniqueQueue();
    const env = {
      REDIS_URL: inject('redisUrl'),
      ANTHROPIC_API_KEY: 'sk-ant-test-multi-0123456789',
      ANTHROPIC_BASE_URL: sim.url,
      PROMPTQ_QUEUE: queue,
      PORT: '0',
      PROMPTQ_CONCURRENCY: '10',
    };
    const workers: CliProcess[] = [
      spawnCli(['worker'], env),
      spawnCli(['worker'], env),
      spawnCli(['worker'], env),
    ];
    try {
      await Promise.all(workers.map((w) => w.waitForLog((l) => l.msg === 'promptq running', 60_000)));
      const q = new PromptQueue({ connection: redis, queue });
      const jobs = Array.from({ length: 40 }, (_, i) => ({
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        prompt: `p${i}`,
      }));
      const { ids } = await q.addBatch(jobs);
      const views = await Promise.all(ids.map((id) => q.wait(id, 60_000)));
      expect(views.every((v) => v?.state === 'completed')).toBe(true);
      // Every process did some of the work.
      const perWorker = workers.map(
        (w) => w.logs().filter((l) => l.msg === 'api_attempt' && l.outcome === 'success').length,
      );
      expect(perWorker.every((n) => n > 0)).toBe(true);
      expect(perWorker.reduce((a, b) => a + b, 0)).toBe(40);
      // 300 RPM = 5/s; the hidden guard is a 5-request bucket. Together, never more than bucket + refill.
      expect(sim.stats().rateLimited.total).toBeLessThanOrEqual(1);
      const arrivals = served.map((r) => r.admittedAt);
      expect(maxInWindow(arrivals, 1000)).toBeLessThanOrEqual(10);
      expect(maxInWindow(arrivals, 200)).toBeLessThanOrEqual(6);
      await q.close();
    } finally {
      for (const w of workers) w.proc.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
    }
  });
});
