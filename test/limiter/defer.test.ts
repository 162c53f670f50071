import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveConfig } from '../../src/core/config.js';
import { RateLimiter } from '../../src/limiter/limiter.js';
import type { CallPlan, Deferral, Permit } from '../../src/limiter/types.js';
import { Keyspace } from '../../src/store/keys.js';

/** No head-of-line blocking: a call whose group has no permit soon is handed back, not parked. */
describe('RateLimiter.acquire with mayDefer', () => {
  let redis: Redis;
  let limiter: RateLimiter;
  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
  });
  afterAll(() => redis.disconnect());
  afterEach(() => limiter?.close());

  const plan = (model: string, priority?: number): CallPlan => ({
    model,
    inputTokens: 10,
    maxTokens: 10,
    tenant: '',
    ...(priority === undefined ? {} : { priority }),
  });
  const none = { requests: undefined, input_tokens: undefined, output_tokens: undefined };
  const noCeil = { requests: 0, input_tokens: 0, output_tokens: 0 };
  const isDeferral = (p: Permit | Deferral): p is Deferral => 'deferred' in p;

  /**
   * A limiter whose `group` is known at `rpm` with an empty bucket (every permit waits for refill),
   * or a full one (`remaining` the whole minute: the bucket holds one second, `rpm / 60` calls).
   */
  async function limiterWith(groups: Record<string, number>, full = false) {
    limiter = new RateLimiter({
      redis,
      account: randomUUID(),
      keys: new Keyspace({ queue: 'limiter' }),
      config: resolveConfig({ limiter: { tuning: { target: 1, reserveMs: 0 } } }).limiter,
    });
    for (const [group, rpm] of Object.entries(groups)) {
      await limiter.state.observe(
        limiter.key(group),
        { ...none, requests: rpm },
        { ...none, requests: full ? rpm : 0 },
        noCeil,
      );
    }
    return limiter;
  }

  it('parks about holdMs worth of calls per group and defers the rest; without mayDefer every call waits (control)', async () => {
    const l = await limiterWith({ haiku: 600 }); // one permit every 100 ms; holdMs 1000 → 10 parked
    const t0 = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 15 }, () => l.acquire(plan('claude-haiku-4-5'), undefined, { mayDefer: true })),
    );
    const deferred = answers.filter(isDeferral);
    expect(answers.length - deferred.length).toBe(10);
    expect(deferred.length).toBe(5);
    for (const d of deferred) {
      expect(d.reason).toBe('queued');
      // Asked back once the parked calls' turn has come: about holdMs later.
      expect(d.untilMs).toBeGreaterThanOrEqual(t0 + 1_000);
    }
    // The control: the same calls without mayDefer all wait for a permit.
    const c = await limiterWith({ haiku: 600 });
    const held = await Promise.all(Array.from({ length: 15 }, () => c.acquire(plan('claude-haiku-4-5'))));
    expect(held.filter((p) => isDeferral(p)).length).toBe(0);
  });

  it('what the full bucket holds is not a line: 20 calls (10 in the bucket + 10 in holdMs) all go, the 21st is deferred', async () => {
    const calls = async (n: number) => {
      const l = await limiterWith({ haiku: 600 }, true); // 10 in the bucket, one more every 100 ms
      return Promise.all(
        Array.from({ length: n }, () => l.acquire(plan('claude-haiku-4-5'), undefined, { mayDefer: true })),
      );
    };
    // At the boundary, from both sides: the empty bucket's line (10) plus the full bucket's 10.
    expect((await calls(20)).filter(isDeferral).length).toBe(0);
    const over = await calls(21);
    expect(over.filter(isDeferral).length).toBe(1);
    expect(isDeferral(over[20]!) && over[20].reason).toBe('queued');
  });

  it('a long line comes back in order, one interval apart, and does not start over after a few seconds', async () => {
    const l = await limiterWith({ haiku: 600 }); // one permit every 100 ms: 120 calls are a 12 s line
    const t0 = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 120 }, () => l.acquire(plan('claude-haiku-4-5'), undefined, { mayDefer: true })),
    );
    const back = answers.filter(isDeferral).map((d) => d.untilMs);
    expect(back.length).toBe(110);
    // Each handed-back call returns at its place in line: a line that started over would send the
    // later ones back early, to be handed back again (and again) while the group is still busy.
    for (let i = 1; i < back.length; i++) expect(back[i]! - back[i - 1]!).toBe(100);
    expect(back.at(-1)!).toBeGreaterThanOrEqual(t0 + 11_900);
  });

  it('a paused group defers at once and does not slow another group; without mayDefer it holds the caller (control)', async () => {
    const l = await limiterWith({ haiku: 6_000, sonnet: 6_000 });
    await l.state.settle(l.key('sonnet'), {
      outcome: 'rate_limited',
      refundInputTokens: 0,
      refundOutputTokens: 0,
      retryAfterMs: 5_000,
      inRatioSample: null,
      headersSeen: true,
    });
    const t0 = Date.now();
    const s = await l.acquire(plan('claude-sonnet-4-5'), undefined, { mayDefer: true });
    expect(isDeferral(s) && s.reason).toBe('paused');
    expect((s as Deferral).untilMs).toBeGreaterThanOrEqual(t0 + 4_000);
    const h = await Promise.all(
      Array.from({ length: 5 }, () => l.acquire(plan('claude-haiku-4-5'), undefined, { mayDefer: true })),
    );
    expect(h.filter(isDeferral)).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(1_500);
    // The control: without mayDefer the sonnet call is still waiting when we give up on it.
    const aborted = l.acquire(plan('claude-sonnet-4-5'), AbortSignal.timeout(300));
    await expect(aborted).rejects.toThrow();
  });

  it('a high-priority call joins a full group and is admitted before the low-priority calls parked there', async () => {
    const l = await limiterWith({ haiku: 600 });
    const order: string[] = [];
    const low = Array.from({ length: 10 }, (_, i) =>
      l.acquire(plan('claude-haiku-4-5', 1_000), undefined, { mayDefer: true }).then((p) => {
        order.push(isDeferral(p) ? `low${i}:deferred` : `low${i}`);
      }),
    );
    await new Promise((r) => setTimeout(r, 50));
    // The group is full of low-priority calls: another low one is deferred, a high one is not.
    const extraLow = await l.acquire(plan('claude-haiku-4-5', 1_000), undefined, { mayDefer: true });
    expect(isDeferral(extraLow)).toBe(true);
    const high = l.acquire(plan('claude-haiku-4-5', 1), undefined, { mayDefer: true }).then((p) => {
      order.push(isDeferral(p) ? 'high:deferred' : 'high');
    });
    await Promise.all([...low, high]);
    expect(order).not.toContain('high:deferred');
    // The head of the line was already asking Redis; the high one goes right after it.
    expect(order.indexOf('high')).toBeLessThanOrEqual(2);
  });
});
