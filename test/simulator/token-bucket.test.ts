import { describe, expect, it } from 'vitest';
import { RateLimiter, type RateLimiterConfig } from '../../packages/anthropic-simulator/src/rate-limiter.js';
import {
  rateLimitHeaders,
  rfc3339,
  roundTokensDown,
} from '../../packages/anthropic-simulator/src/ratelimit-headers.js';
import {
  bucketSpec,
  emptyBucket,
  fullBucket,
  give,
  levelAt,
  msUntilAvailable,
  msUntilFull,
  take,
  tryTake,
} from '../../packages/anthropic-simulator/src/token-bucket.js';
import { fakeClock } from './helpers.js';

describe('token bucket (pure functions)', () => {
  const spec = bucketSpec(60); // 60/min = 1 per second

  it('derives capacity and continuous refill from a per-minute limit', () => {
    expect(spec.capacity).toBe(60);
    expect(spec.refillPerMs).toBeCloseTo(0.001);
    expect(bucketSpec(600, 1).capacity).toBe(10); // short-interval guard: limit/60 × seconds
  });

  it('refills continuously up to capacity, never beyond', () => {
    const s = take(fullBucket(spec, 0), spec, 60, 0);
    expect(levelAt(s, spec, 0)).toBe(0);
    expect(levelAt(s, spec, 500)).toBeCloseTo(0.5);
    expect(levelAt(s, spec, 30_000)).toBeCloseTo(30);
    expect(levelAt(s, spec, 10 * 60_000)).toBe(60);
  });

  it('does not drain when the clock steps backwards', () => {
    const s = emptyBucket(spec, 10_000);
    expect(levelAt(s, spec, 5_000)).toBe(0);
  });

  it('reports the time until an amount is available, Infinity beyond capacity', () => {
    const s = emptyBucket(spec, 0);
    expect(msUntilAvailable(s, spec, 1, 0)).toBeCloseTo(1000);
    expect(msUntilAvailable(s, spec, 1, 400)).toBeCloseTo(600);
    expect(msUntilAvailable(s, spec, 1, 1000)).toBe(0);
    expect(msUntilAvailable(s, spec, 61, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(msUntilFull(s, spec, 0)).toBeCloseTo(60_000);
    expect(msUntilFull(fullBucket(spec, 0), spec, 0)).toBe(0);
  });

  it('tryTake admits exactly what is there and says how long to wait otherwise', () => {
    let s = fullBucket(bucketSpec(3), 0);
    const small = bucketSpec(3);
    for (let i = 0; i < 3; i++) {
      const r = tryTake(s, small, 1, 0);
      expect(r.ok).toBe(true);
      if (r.ok) s = r.state;
    }
    const refused = tryTake(s, small, 1, 0);
    expect(refused).toEqual({ ok: false, waitMs: expect.closeTo(20_000, 6) });
    // Waiting exactly the reported time is enough (no float drift).
    expect(tryTake(s, small, 1, 20_000).ok).toBe(true);
  });

  it('overdraft admits an oversized amount once full and leaves the bucket negative', () => {
    const guard = bucketSpec(600, 1); // capacity 10
    const r = tryTake(fullBucket(guard, 0), guard, 25, 0, true);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(levelAt(r.state, guard, 0)).toBe(-15);
    expect(tryTake(r.state, guard, 1, 0, true).ok).toBe(false);
    expect(tryTake(fullBucket(guard, 0), guard, 25, 0, false).ok).toBe(false);
  });

  it('give refunds without exceeding capacity', () => {
    const s = take(fullBucket(spec, 0), spec, 10, 0);
    expect(levelAt(give(s, spec, 4, 0), spec, 0)).toBe(54);
    expect(levelAt(give(s, spec, 400, 0), spec, 0)).toBe(60);
  });
});

describe('rate-limit header formatting', () => {
  it('formats reset as RFC 3339 with whole seconds, rounded up', () => {
    expect(rfc3339(Date.parse('2026-11-26T22:40:00.200Z'))).toBe('2026-11-26T22:40:01Z');
    expect(rfc3339(Date.parse('2026-11-26T22:40:00Z'))).toBe('2026-11-26T22:40:00Z');
  });

  it('rounds token remainders down to thousands and never below zero', () => {
    expect(roundTokensDown(29_999.7)).toBe(29_000);
    expect(roundTokensDown(999)).toBe(0);
    expect(roundTokensDown(-50)).toBe(0);
  });

  it('the combined tokens headers follow the more restrictive of input and output', () => {
    const h = rateLimitHeaders(
      {
        'input-tokens': { limit: 30_000, level: 25_500, msUntilFull: 1000 },
        'output-tokens': { limit: 8_000, level: 7_900, msUntilFull: 2000 },
      },
      0,
    );
    expect(h['anthropic-ratelimit-tokens-limit']).toBe('8000');
    expect(h['anthropic-ratelimit-tokens-remaining']).toBe('7000');
    expect(h['anthropic-ratelimit-tokens-reset']).toBe('1970-01-01T00:00:02Z');
    expect(h['anthropic-ratelimit-requests-limit']).toBeUndefined();
  });
});

describe('RateLimiter with an injected clock', () => {
  const config = (clock: ReturnType<typeof fakeClock>, extra: Partial<RateLimiterConfig> = {}) => ({
    defaults: { rpm: 60, itpm: 10_000, otpm: 2_000, announced: null },
    groupLimits: {},
    shortIntervalSeconds: 0,
    startEmpty: false,
    now: clock.now,
    ...extra,
  });
  const cost = (input = 100, output = 500) => ({ requests: 1, input_tokens: input, output_tokens: output });

  it('charges max_tokens up front and refunds the unused part', () => {
    const clock = fakeClock();
    const rl = new RateLimiter(config(clock));
    expect(rl.admit('sonnet', cost(100, 1_500)).ok).toBe(true);
    const refused = rl.admit('sonnet', cost(100, 1_000));
    expect(refused).toMatchObject({ ok: false, kind: 'bucket', resource: 'output_tokens', limit: 2_000 });
    // 500 available, 1000 needed, 2000/min → 15 s.
    expect(refused.ok ? 0 : refused.retryAfterSeconds).toBe(15);
    rl.refund('sonnet', 'output_tokens', 1_400); // only 100 tokens were produced
    expect(rl.admit('sonnet', cost(100, 1_000)).ok).toBe(true);
  });

  it('refuses without charging anything', () => {
    const clock = fakeClock();
    const rl = new RateLimiter(config(clock, { defaults: { rpm: 1, itpm: 0, otpm: 0, announced: null } }));
    expect(rl.admit('haiku', cost()).ok).toBe(true);
    expect(rl.admit('haiku', cost()).ok).toBe(false);
    clock.advance(60_000);
    expect(rl.admit('haiku', cost()).ok).toBe(true);
  });

  it('a limit of 0 is unlimited and produces no headers', () => {
    const clock = fakeClock();
    const rl = new RateLimiter(
      config(clock, { defaults: { rpm: 0, itpm: 0, otpm: 5_000, announced: null } }),
    );
    for (let i = 0; i < 100; i++) expect(rl.admit('opus', cost(1_000_000, 10)).ok).toBe(true);
    const h = rl.headers('opus');
    expect(Object.keys(h).filter((k) => k.includes('requests'))).toEqual([]);
    expect(Object.keys(h).filter((k) => k.includes('input-tokens'))).toEqual([]);
    expect(h['anthropic-ratelimit-tokens-limit']).toBe('5000');
  });

  it('startEmpty buckets fill over time', () => {
    const clock = fakeClock();
    const rl = new RateLimiter(config(clock, { startEmpty: true }));
    const first = rl.admit('sonnet', cost(10, 10));
    expect(first).toMatchObject({ ok: false, resource: 'requests', retryAfterSeconds: 1 });
    clock.advance(1_000);
    expect(rl.admit('sonnet', cost(10, 10)).ok).toBe(true);
  });

  it('keeps groups independent', () => {
    const clock = fakeClock();
    const rl = new RateLimiter(config(clock, { groupLimits: { haiku: { rpm: 1 } } }));
    expect(rl.admit('haiku', cost()).ok).toBe(true);
    expect(rl.admit('haiku', cost()).ok).toBe(false);
    expect(rl.admit('sonnet', cost()).ok).toBe(true);
    expect(rl.limitsOf('haiku').rpm).toBe(1);
    expect(rl.limitsOf('sonnet').rpm).toBe(60);
  });
});
