/**
 * Jobs finished in Message Batches are written straight into BullMQ's finished sets; with no live
 * worker finishing jobs, nothing else would apply the queue's retention to them.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { type FinishedBatchJob, finishBatchJobs } from '../../src/store/batch-store.js';
import { bullJobId, Keyspace } from '../../src/store/keys.js';
import { uniqueQueue } from '../helpers/stack.js';

const redis = new Redis(inject('redisUrl'));
afterAll(() => redis.disconnect());

const hour = 3600;

function job(id: string, status: 'completed' | 'failed', finishedOn: number): FinishedBatchJob {
  return {
    id,
    status,
    name: 'claude-haiku-4-5',
    data: '{}',
    opts: '{}',
    enqueuedAt: finishedOn - 1000,
    processedOn: finishedOn - 1000,
    finishedOn,
    result: status === 'completed' ? '{}' : 'failed',
    record: '{}',
  };
}

describe('finishBatchJobs', () => {
  it('applies the retention: a job finished past it is removed, one just within it is kept, 0 keeps all', async () => {
    const keys = new Keyspace({ queue: uniqueQueue() });
    const now = Date.now();
    const written = await finishBatchJobs(
      redis,
      keys,
      [
        job('old-done', 'completed', now - (hour + 60) * 1000),
        job('recent-done', 'completed', now - (hour - 60) * 1000),
        job('old-failed', 'failed', now - 30 * 24 * hour * 1000),
      ],
      { completedSeconds: hour, failedSeconds: 0 },
    );
    expect(written).toEqual([true, true, true]);
    const completed = await redis.zrange(keys.bullmq('completed'), 0, -1);
    expect(completed).toEqual([bullJobId('recent-done')]);
    expect(await redis.exists(keys.job(bullJobId('old-done')))).toBe(0);
    expect(await redis.exists(keys.job(bullJobId('recent-done')))).toBe(1);
    // failedSeconds 0: failed jobs are kept however old.
    expect(await redis.zrange(keys.bullmq('failed'), 0, -1)).toEqual([bullJobId('old-failed')]);
    expect(await redis.exists(keys.job(bullJobId('old-failed')))).toBe(1);

    // A later call with a shorter failed retention removes it then.
    await finishBatchJobs(redis, keys, [job('later', 'completed', now)], {
      completedSeconds: hour,
      failedSeconds: hour,
    });
    expect(await redis.zcard(keys.bullmq('failed'))).toBe(0);
    expect(await redis.exists(keys.job(bullJobId('old-failed')))).toBe(0);
    expect(await redis.zrange(keys.bullmq('completed'), 0, -1)).toEqual([
      bullJobId('recent-done'),
      bullJobId('later'),
    ]);
  });
});
