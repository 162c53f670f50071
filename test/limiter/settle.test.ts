import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveConfig } from '../../src/core/config.js';
import { RateLimiter } from '../../src/limiter/limiter.js';
import type { CallPlan, Permit } from '../../src/limiter/types.js';
import { Keyspace } from '../../src/store/keys.js';

/** What a permit gives back when its call ends: the group's buckets get the API's own count. */
describe('a permit settles its charge with what the API counted', () => {
  let redis: Redis;
  let limiter: RateLimiter;
  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
  });
  afterAll(() => redis.disconnect());
  afterEach(() => limiter?.close());

  const plan: CallPlan = { model: 'claude-haiku-4-5', inputTokens: 500, maxTokens: 4000, tenant: '' };
  const ceilings = { requests: 0, input_tokens: 0, output_tokens: 0 };

  /** 600,000 ITPM and 60,000 OTPM: 10,000 and 1,000 a second, buckets of one second, full. */
  async function admitted(): Promise<{ permit: Permit; key: string }> {
    limiter = new RateLimiter({
      redis,
      account: randomUUID(),
      keys: new Keyspace({ queue: 'limiter' }),
      config: resolveConfig({ limiter: { tuning: { target: 1, reserveMs: 0 } } }).limiter,
    });
    const key = limiter.key('haiku');
    const limits = { requests: 6000, input_tokens: 600_000, output_tokens: 60_000 };
    await limiter.state.observe(key, limits, limits, ceilings);
    return { permit: await limiter.acquire(plan), key };
  }

  it('a 429 gives the whole charge back (a refused call counts nothing at the API); a success gives back max_tokens less the output (control)', async () => {
    const refused = await admitted();
    // max_tokens 4,000 > the 1,000-token bucket: admitted full, 3,000 in debt.
    expect((await limiter.state.read(refused.key)).levels.output_tokens).toBeLessThan(-2900);
    await refused.permit.settle({ outcome: 'rate_limited', signals: {}, retryAfterMs: 1000 });
    const after = await limiter.state.read(refused.key);
    // The 429 empties the buckets (what was sent did not all land), but leaves no debt of this call.
    expect(after.levels.output_tokens).toBe(0);
    expect(after.levels.input_tokens).toBe(0);
    await limiter.close();

    const ok = await admitted();
    await ok.permit.settle({
      outcome: 'success',
      signals: {},
      retryAfterMs: null,
      inputTokens: 500,
      outputTokens: 1000,
    });
    // 1,000 - 4,000 + (4,000 - 1,000) = 0, give or take a few ms of refill.
    const level = (await limiter.state.read(ok.key)).levels.output_tokens!;
    expect(level).toBeGreaterThanOrEqual(0);
    expect(level).toBeLessThan(200);
  });

  it('a 404 for a model the API has not gives the whole charge back, its request too (control: another failure keeps the request)', async () => {
    // 60 RPM at target 1: one request a second, a bucket of one request. Each admission takes it.
    async function afterSettle(notCharged: boolean): Promise<number> {
      limiter = new RateLimiter({
        redis,
        account: randomUUID(),
        keys: new Keyspace({ queue: 'limiter' }),
        config: resolveConfig({ limiter: { tuning: { target: 1, reserveMs: 0 } } }).limiter,
      });
      const key = limiter.key('other');
      const limits = { requests: 60, input_tokens: 600_000, output_tokens: 60_000 };
      await limiter.state.observe(key, limits, limits, ceilings);
      const made = { ...plan, model: `made-up-model-${randomUUID()}` };
      const permit = await limiter.acquire(made);
      await permit.settle({ outcome: 'client_error', signals: {}, retryAfterMs: null, notCharged });
      const s = await limiter.state.read(key);
      await limiter.close();
      return s.levels.requests!;
    }
    // Given back: the bucket is full again (a few ms of refill at most on top, capped at one).
    expect(await afterSettle(true)).toBeGreaterThan(0.95);
    // Kept: empty, plus the few ms of refill since (1 request a second).
    expect(await afterSettle(false)).toBeLessThan(0.2);
  });
});

describe('speed: "fast" has its own bucket', () => {
  let redis: Redis;
  let limiter: RateLimiter;
  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
  });
  afterAll(() => redis.disconnect());
  afterEach(() => limiter?.close());

  it("a fast call is paced in its family's fast group: a paused standard group does not hold it (control: a standard call is handed back)", async () => {
    limiter = new RateLimiter({
      redis,
      account: randomUUID(),
      keys: new Keyspace({ queue: 'limiter' }),
      config: resolveConfig({ limiter: { tuning: { target: 1, reserveMs: 0 } } }).limiter,
    });
    const limits = { requests: 6000, input_tokens: 600_000, output_tokens: 60_000 };
    const none = { requests: 0, input_tokens: 0, output_tokens: 0 };
    for (const group of ['sonnet', 'sonnet-fast'])
      await limiter.state.observe(limiter.key(group), limits, limits, none);
    // The standard bucket answers 429: its group pauses for 30 s.
    const first = await limiter.acquire({
      model: 'claude-sonnet-4-5',
      inputTokens: 10,
      maxTokens: 10,
      tenant: '',
    });
    await first.settle({ outcome: 'rate_limited', signals: {}, retryAfterMs: 30_000 });
    const plan = { model: 'claude-sonnet-4-5', inputTokens: 10, maxTokens: 10, tenant: '' };
    const standard = await limiter.acquire(plan, undefined, { mayDefer: true });
    expect(standard).toMatchObject({ deferred: true, reason: 'paused' });
    const fast = await limiter.acquire({ ...plan, speed: 'fast' }, undefined, { mayDefer: true });
    expect('deferred' in fast).toBe(false);
  });
});

describe('a cacheable prefix is a read once its first answer begins (its first token)', () => {
  let redis: Redis;
  let limiter: RateLimiter;
  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
  });
  afterAll(() => redis.disconnect());
  afterEach(() => limiter?.close());

  it('the calls waiting for the writer go as reads when its answer begins, not when it ends (control: without the answer they wait cacheWriteWaitMs and pay the write)', async () => {
    const run = async (begins: boolean) => {
      limiter = new RateLimiter({
        redis,
        account: randomUUID(),
        keys: new Keyspace({ queue: 'limiter' }),
        // A minute's bucket: the level is the charges less the refill, never capped in the test.
        config: resolveConfig({
          limiter: { tuning: { target: 1, reserveMs: 0, cacheWriteWaitMs: 2000, burstMs: 60_000 } },
        }).limiter,
      });
      const key = limiter.key('sonnet');
      // 600,000 ITPM: 10 tokens a ms.
      const limits = { requests: 60_000, input_tokens: 600_000, output_tokens: 600_000 };
      const left = { ...limits, input_tokens: 100_000 };
      await limiter.state.observe(key, limits, left, { requests: 0, input_tokens: 0, output_tokens: 0 });
      const plan = {
        model: 'claude-sonnet-4-5',
        inputTokens: 10_000,
        cachePrefixTokens: 9_000,
        cachePrefixKey: 'p1',
        maxTokens: 10,
        tenant: '',
      };
      const writer = await limiter.acquire(plan);
      const t0 = Date.now();
      const before = (await limiter.state.read(key)).levels.input_tokens!;
      const reader = limiter.acquire(plan);
      if (begins) setTimeout(() => writer.observeFirstToken?.(), 100);
      await reader;
      const waited = Date.now() - t0;
      const after = await limiter.state.read(key);
      const charged = Math.round(before + 10 * (Date.now() - t0) - after.levels.input_tokens!);
      await limiter.close();
      return { waited, charged };
    };
    const began = await run(true);
    const control = await run(false);
    console.log(`prefix ${JSON.stringify({ began, control })}`);
    // The reader went when the writer's answer began, charged its uncached 1,000 tokens (less the
    // refill meanwhile), where the control waited cacheWriteWaitMs and paid the whole prompt.
    expect(began.waited).toBeLessThan(1500);
    expect(began.charged).toBeLessThan(2000);
    expect(control.waited).toBeGreaterThanOrEqual(1900);
    expect(control.charged).toBeGreaterThan(9000);
  });
});
