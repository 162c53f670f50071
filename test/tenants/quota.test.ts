import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { queueKeys } from '../../src/store/keys.js';
import { admitQuota } from '../../src/store/quota-store.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { get, post, startStack, uniqueQueue } from '../helpers/stack.js';

describe('tenant quotas (requests and tokens per minute)', () => {
  const redis = new Redis(inject('redisUrl'));
  afterAll(() => redis.disconnect());

  it('admits up to a minute of requests, then says how long until the next fits', async () => {
    const k = queueKeys(uniqueQueue());
    const store = new TenantStore(redis, k);
    await store.add('t', { rpm: 3 });
    const t0 = Date.UTC(2026, 10, 27, 12);
    for (let i = 0; i < 3; i++) expect((await admitQuota(redis, k, 't', 10, t0)).waitMs).toBe(0);
    expect(await admitQuota(redis, k, 't', 10, t0)).toEqual({ waitMs: 20_000, resource: 'requests' });
    expect((await admitQuota(redis, k, 't', 10, t0 + 19_999)).waitMs).toBeGreaterThan(0);
    expect((await admitQuota(redis, k, 't', 10, t0 + 20_000)).waitMs).toBe(0);
    // Tokens: a call bigger than the rest of the minute waits; one bigger than a minute goes alone.
    await store.set('t', { rpm: null, tpm: 1000 });
    const t1 = t0 + 600_000;
    expect((await admitQuota(redis, k, 't', 700, t1)).waitMs).toBe(0);
    expect(await admitQuota(redis, k, 't', 400, t1)).toEqual({ waitMs: 6000, resource: 'tokens' });
    expect((await admitQuota(redis, k, 't', 300, t1)).waitMs).toBe(0);
    expect((await admitQuota(redis, k, 't', 5000, t1 + 60_000)).waitMs).toBe(0);
    // No quota, no state.
    await store.set('t', { tpm: null });
    await redis.del(k.quota('t'));
    for (let i = 0; i < 50; i++) expect((await admitQuota(redis, k, 't', 1e6)).waitMs).toBe(0);
    expect(await redis.exists(k.quota('t'))).toBe(0);
  });

  it("a worker puts a job over its tenant's quota back without an attempt; it runs once the minute allows", async () => {
    const s = await startStack();
    try {
      await new TenantStore(s.redis, s.svc.queue.keys).add('metered', { tpm: 6000 });
      // 3 × (2155 + the prompt's) tokens ≈ 6500 > 6000: the third waits about 5 s, even when the
      // three are picked up seconds apart on a loaded machine.
      const body = { model: 'claude-haiku-4-5', max_tokens: 2155, prompt: 'hello', tenant_id: 'metered' };
      const batch = await post(`${s.url}/v1/jobs/batch`, { jobs: [body, body, body] });
      const ids = batch.body.ids as string[];
      const views = await Promise.all(ids.map((id) => get(`${s.url}/v1/jobs/${id}?wait=30`)));
      expect(views.map((v) => v.body.state)).toEqual(['completed', 'completed', 'completed']);
      for (const v of views) expect(v.body.record.attempts).toBe(1);
      const waits = s.logs.filter((l) => l.msg === 'over quota: job waits');
      expect(waits.length).toBeGreaterThan(0);
      expect(waits[0]).toMatchObject({ tenant_id: 'metered', resource: 'tokens' });
    } finally {
      await s.close();
    }
  });
});
