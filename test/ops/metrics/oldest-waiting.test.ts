/**
 * `promptq_queue_oldest_waiting_seconds` samples the wait list's tail and the first 100 prioritized
 * jobs. Read from the queue's keys it fetches their `timestamp` fields alone (one HGET each, no job
 * bodies, no HGETALL): the same value as reading whole jobs through BullMQ (the control, which
 * sends HGETALLs), on a private redis-server whose `INFO commandstats` counts every command.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandDelta, parseCommandStats } from '../../../scripts/lib/redis-commands.js';
import { Metrics } from '../../../src/ops/metrics/metrics.js';
import { registerQueueGauges } from '../../../src/ops/metrics/queue-gauges.js';
import { Keyspace } from '../../../src/store/keys.js';
import { TestRedis } from '../../helpers/redis-server.js';

let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = new TestRedis();
  await server.start();
  redis = new Redis(server.url);
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await server?.destroy();
});

describe('the oldest waiting job gauge', () => {
  it('reads the sampled jobs’ timestamps only, and agrees with reading whole jobs', async () => {
    const keys = new Keyspace({ queue: 'gauge' });
    const queue = new Queue('gauge', {
      connection: { host: '127.0.0.1', port: server.port },
      prefix: keys.prefix,
    });
    const now = Date.now();
    const body = { prompt: 'x'.repeat(2000) };
    await queue.add('p', body, { timestamp: now - 30_000 });
    await queue.add('p', body, { timestamp: now - 90_000, priority: 5 });
    for (let i = 0; i < 20; i++) await queue.add('p', body, { timestamp: now - 10_000, priority: 3 });
    const read = async (withKeys: boolean) => {
      const metrics = new Metrics();
      registerQueueGauges(metrics, queue, withKeys ? { connection: redis as never, keys } : undefined);
      const before = parseCommandStats(await redis.info('commandstats'));
      const value = (await metrics.registry.getSingleMetric('promptq_queue_oldest_waiting_seconds')?.get())
        ?.values[0]?.value;
      const calls = Object.fromEntries(
        commandDelta(before, parseCommandStats(await redis.info('commandstats'))),
      );
      return { value: value ?? -1, calls };
    };
    const keysRead = await read(true);
    const control = await read(false);
    // The job enqueued 90 s ago is the oldest, whichever way it is read.
    expect(keysRead.value).toBeGreaterThanOrEqual(90);
    expect(keysRead.value).toBeLessThan(120);
    expect(Math.abs(keysRead.value - control.value)).toBeLessThan(5);
    // 22 sampled jobs: one HGET each, and no whole job read.
    expect(keysRead.calls.hget).toBe(22);
    expect(keysRead.calls.hgetall ?? 0).toBe(0);
    // The control reads whole jobs.
    expect(control.calls.hgetall).toBeGreaterThanOrEqual(22);
    await queue.close();
  });
});
