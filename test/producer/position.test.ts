/**
 * A waiting job's `position` counts what is ahead of it as workers pick — higher priority first,
 * then the tenant round robin — and only jobs of its own model group, which its group's limiter
 * paces with it: Sonnet jobs queued before a Haiku job are not ahead of it. No worker runs here,
 * so the queue stands still and every count is exact.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { PromptQueue } from '../../src/producer/queue.js';
import { uniqueQueue } from '../helpers/stack.js';
import { testRedis, testSettings } from '../helpers/topology.js';

describe('position: what is ahead in its lane', () => {
  const redis = testRedis();
  const q = new PromptQueue({ connection: redis, queue: uniqueQueue(), ...testSettings() });
  afterAll(async () => {
    await q.queue.obliterate({ force: true });
    await redis.del(q.keys.tenantPending);
    await q.close();
    redis.disconnect();
  });
  const job = (id: string, model: string, extra: object = {}) => ({
    id,
    model,
    max_tokens: 5,
    prompt: id,
    ...extra,
  });
  const position = async (id: string, tenant?: string) => (await q.get({ id, tenant }))?.position;

  it('counts the jobs of its model group ahead of it, by priority and tenant lane', async () => {
    // Interleaved: 5 Haiku and 5 Sonnet jobs, tenant acme.
    for (let i = 0; i < 5; i++) {
      await q.add(job(`h${i}`, 'claude-haiku-4-5', { tenant_id: 'acme' }));
      await q.add(job(`s${i}`, 'claude-sonnet-4-5', { tenant_id: 'acme' }));
    }
    // 4 Haiku jobs ahead of h4; the 5 Sonnet jobs are not (the whole queue would say 8).
    expect(await position('h4', 'acme')).toBe(4);
    expect(await position('s4', 'acme')).toBe(4);
    expect(await position('h0', 'acme')).toBe(0);
    // Another tenant's first Haiku job comes right after acme's first (round robin): 1 ahead.
    await q.add(job('b0', 'claude-haiku-4-5', { tenant_id: 'bravo' }));
    expect(await position('b0', 'bravo')).toBe(1);
    expect(await position('h4', 'acme')).toBe(5);
    // A Haiku job of a higher priority, added last, goes ahead of every Haiku job; a Sonnet one does not count.
    await q.add(job('urgent', 'claude-haiku-4-5', { priority: 1 }));
    await q.add(job('urgent-s', 'claude-sonnet-4-5', { priority: 1 }));
    expect(await position('urgent')).toBe(0);
    expect(await position('h4', 'acme')).toBe(6);
    expect(await position('s4', 'acme')).toBe(5);
  });
});
