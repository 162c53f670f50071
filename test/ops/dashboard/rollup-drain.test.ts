/**
 * The rollups' group commit lingers (rollupLingerMs) for other finished jobs to join its write; a
 * shutdown waiting for the listeners (`PromptqEvents.idle`) does not wait that out: the writer
 * sends what it holds at once, and it is in Redis when `idle` resolves. The control subscribes the
 * same writer through a source without the drain hook, and `idle` waits the whole linger.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { defaults } from '../../../src/core/defaults.js';
import { newRecord } from '../../../src/core/record.js';
import { PromptqEvents } from '../../../src/events/emitter.js';
import { readDashboard } from '../../../src/ops/dashboard/summary.js';
import { subscribeRollups } from '../../../src/ops/metrics/rollup-subscriber.js';
import { RollupWriter, rollupLingerMs } from '../../../src/ops/metrics/rollups.js';
import { uniqueQueue } from '../../helpers/stack.js';
import { testKeys, testRedis } from '../../helpers/topology.js';

describe('rollups at shutdown', () => {
  const redis = testRedis();
  afterAll(() => redis.disconnect());

  /** One finished job through `events`, then how long `idle` took and what the dashboard shows. */
  async function finishOne(withDrain: boolean) {
    const queue = uniqueQueue();
    const keys = testKeys(queue);
    const events = new PromptqEvents();
    const writer = new RollupWriter({
      connection: redis,
      keys,
      retention: defaults.rollups,
      tenantLabel: (t) => t ?? 'none',
      modelLabel: (m) => m,
    });
    subscribeRollups(withDrain ? events : { on: events.on.bind(events) }, writer);
    const now = Date.now();
    const record = {
      ...newRecord({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [] }, now - 50),
      finished_at: new Date(now).toISOString(),
      total_ms: 50,
    };
    await events.emit('finished', { jobId: 'd1', status: 'completed', record });
    const t0 = performance.now();
    expect(await events.idle(10_000)).toBe(true);
    const idleMs = performance.now() - t0;
    const jobs = (await readDashboard(redis, keys, 60, now)).totals.jobs;
    events.close();
    return { idleMs, jobs };
  }

  it('a shutdown does not wait out the linger, and the rollup is written when idle resolves', async () => {
    const drained = await finishOne(true);
    expect(drained.jobs).toBe(1);
    expect(drained.idleMs).toBeLessThan(rollupLingerMs / 2);
    // The control: without the drain hook, idle waits for the linger to run out.
    const control = await finishOne(false);
    expect(control.jobs).toBe(1);
    expect(control.idleMs).toBeGreaterThanOrEqual(rollupLingerMs * 0.9);
  });
});
