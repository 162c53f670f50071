import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveConfig } from '../../src/core/config.js';
import { CacheOrder, pollMaxMs } from '../../src/limiter/cache-order.js';

/**
 * A call waiting for another process's writer of its prefix (src/limiter/cache-order.ts) looks again
 * at growing intervals, one watch per process and prefix, not every 25 ms per waiting call: waiting
 * for a writer must not cost Redis a command every few milliseconds per waiting call (the limiter lab
 * saw 78,571 looks for 3 calls).
 * The commands are counted on the waiting process's own connection.
 */
describe('waiting for another process writing the prefix', () => {
  let writerRedis: Redis;
  let waiterRedis: Redis;
  let sent = 0;
  beforeAll(() => {
    writerRedis = new Redis(inject('redisUrl'));
    waiterRedis = new Redis(inject('redisUrl'));
    const send = waiterRedis.sendCommand.bind(waiterRedis);
    waiterRedis.sendCommand = ((...args: Parameters<typeof send>) => {
      sent += 1;
      return send(...args);
    }) as typeof send;
  });
  afterAll(() => {
    writerRedis.disconnect();
    waiterRedis.disconnect();
  });

  it('20 calls of one process waiting 3 s cost one claim each and at most 20 shared looks; they read within one look interval of the answer', async () => {
    const tuning = resolveConfig({ limiter: { tuning: { cacheWriteWaitMs: 10_000 } } }).limiter.tuning;
    const prefix = { key: `sonnet:m:${randomUUID()}`, redisKey: `test:cache:${randomUUID()}` };
    const writerOrder = new CacheOrder(writerRedis, () => tuning);
    const waiterOrder = new CacheOrder(waiterRedis, () => tuning);
    const writer = await writerOrder.turn(prefix);
    expect(writer.kind).toBe('write');
    await waiterRedis.ping();
    sent = 0;
    const t0 = Date.now();
    const waiting = Array.from({ length: 20 }, () => waiterOrder.turn(prefix));
    setTimeout(() => (writer.kind === 'write' ? writer.answered() : undefined), 3000);
    const turns = await Promise.all(waiting);
    const waited = Date.now() - t0;
    console.log(`20 calls waited ${waited} ms, ${sent} commands`);
    expect(turns.map((t) => t.kind)).toEqual(Array(20).fill('cached'));
    expect(waited).toBeGreaterThanOrEqual(2990);
    expect(waited).toBeLessThan(3000 + pollMaxMs + 300);
    // 20 claims, then one watch: 25, 50, 100, 200, then every 250 ms: about 15 looks in 3 s (a look
    // per call every 25 ms would be 2,400; one per call at the same intervals, about 320).
    expect(sent).toBeLessThanOrEqual(40);
  });
});
