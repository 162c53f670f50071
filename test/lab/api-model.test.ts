/**
 * The lab's model of the API (scripts/lab/api-model.ts) and its ideal client (ideal.ts): each rule
 * the lab judges the limiter by, checked at its boundary from both sides.
 */
import { describe, expect, it } from 'vitest';
import { ApiModel, type ApiRequest, type ApiSpec, type Limits } from '../../scripts/lab/api-model.js';
import type { Condition } from '../../scripts/lab/conditions.js';
import { idealRun, START } from '../../scripts/lab/ideal.js';
import { Rng } from '../../scripts/lab/rng.js';
import { parseRetryAfter } from '../../src/providers/anthropic/classify.js';
import { parseRateLimitHeaders } from '../../src/providers/anthropic/rate-limit-headers.js';

const T0 = START;
const huge: Limits = { requests: 1e9, input_tokens: 1e12, output_tokens: 1e12 };

function spec(over: Partial<ApiSpec> & { limits?: Limits; cacheReadsCount?: boolean }): ApiSpec {
  const { limits = huge, cacheReadsCount = false, ...rest } = over;
  return {
    families: [{ model: 'claude-sonnet-4-5', limits, cacheReadsCount }],
    windowS: 60,
    headers: { mode: 'present', scale: 1 },
    otherUser: 0,
    overload: [],
    latency: { ttftMs: 100, sigma: 0, tokensPerS: 100 },
    ...rest,
  };
}

const req = (over: Partial<ApiRequest> = {}): ApiRequest => ({
  family: 0,
  fast: false,
  inputTokens: 10,
  prefixTokens: 0,
  maxTokens: 10,
  outputTokens: 5,
  ...over,
});

describe('api model: token buckets', () => {
  it('enforces 60 RPM over 1-second windows as one request a second (buckets start empty, refill continuously)', () => {
    const m = new ApiModel(spec({ limits: { ...huge, requests: 60 }, windowS: 1 }), T0, new Rng(1));
    expect(m.send(req(), T0 + 999).status).toBe(429);
    expect(m.send(req(), T0 + 1000).status).toBe(200);
    // The bucket holds one request: the next second's is not there 1 ms early, and is there on time.
    expect(m.send(req(), T0 + 1999).status).toBe(429);
    expect(m.send(req(), T0 + 2000).status).toBe(200);
    // Idle for 10 s: still only one request (capacity = 60 × 1 / 60).
    expect(m.send(req(), T0 + 12_000).status).toBe(200);
    expect(m.send(req(), T0 + 12_000).status).toBe(429);
  });

  it('a 60-second window holds a minute: 60 requests at once after a minute, not 61', () => {
    const m = new ApiModel(spec({ limits: { ...huge, requests: 60 } }), T0, new Rng(1));
    for (let i = 0; i < 60; i++) expect(m.send(req(), T0 + 60_000).status).toBe(200);
    expect(m.send(req(), T0 + 60_000).status).toBe(429);
  });

  it('charges max_tokens at admission and gives back the unused part at the end', () => {
    const m = new ApiModel(spec({ limits: { ...huge, output_tokens: 6000 } }), T0, new Rng(1));
    const at = T0 + 60_000; // 6000 output tokens in the bucket
    const first = m.send(req({ maxTokens: 4000, outputTokens: 1000 }), at);
    expect(first.status).toBe(200);
    // 2000 left: a second 4000 does not fit, a 2000 would.
    expect(m.send(req({ maxTokens: 4000, outputTokens: 1000 }), at).status).toBe(429);
    expect(m.waitMs(req({ maxTokens: 2000 }), at)).toBe(0);
    expect(m.waitMs(req({ maxTokens: 2001 }), at)).toBeGreaterThan(0);
    if (first.status !== 200) throw new Error('unreachable');
    m.finish(first.id, at);
    // 3000 back: 5000 left.
    expect(m.waitMs(req({ maxTokens: 5000 }), at)).toBe(0);
    expect(m.waitMs(req({ maxTokens: 5001 }), at)).toBeGreaterThan(0);
  });

  it('answers a 429 with retry-after in whole seconds: the wait until the bucket has room, rounded up', () => {
    const m = new ApiModel(spec({ limits: { ...huge, requests: 30 }, windowS: 2 }), T0, new Rng(1));
    // One request refills in 2 s; at 500 ms, 1.5 s are missing → retry-after 2.
    const r = m.send(req(), T0 + 500);
    expect(r.status).toBe(429);
    if (r.status !== 429) throw new Error('unreachable');
    expect(r.resource).toBe('requests');
    expect(parseRetryAfter(r.headers, T0)).toBe(2000);
    expect(m.send(req(), T0 + 2000).status).toBe(200);
  });

  it('counts cache reads toward ITPM only on models where they count; writes always', () => {
    for (const cacheReadsCount of [false, true]) {
      const m = new ApiModel(
        spec({ limits: { ...huge, input_tokens: 60_000 }, cacheReadsCount }),
        T0,
        new Rng(1),
      );
      const cached = req({ inputTokens: 1100, prefixTokens: 1000, prefixKey: 'p' });
      const first = m.send(cached, T0 + 60_000);
      expect(first.status === 200 && first.usage.cache_creation_input_tokens).toBe(1000);
      // After the first answer began, the prefix is a read.
      const second = m.send(cached, T0 + 61_000);
      expect(second.status === 200 && second.usage.cache_read_input_tokens).toBe(1000);
      const used = m.sets[0]?.counters.used.input_tokens;
      expect(used).toBe(cacheReadsCount ? 2200 : 1200);
    }
  });

  it('keeps the fast bucket apart from the standard one', () => {
    const s = spec({ limits: { ...huge, requests: 60 }, windowS: 1 });
    s.families[0] = { ...(s.families[0] as ApiSpec['families'][0]), fast: { ...huge, requests: 60 } };
    const m = new ApiModel(s, T0, new Rng(1));
    expect(m.send(req(), T0 + 1000).status).toBe(200);
    expect(m.send(req(), T0 + 1000).status).toBe(429);
    const fast = m.send(req({ fast: true }), T0 + 1000);
    expect(fast.status).toBe(200);
    expect(fast.headers.get('anthropic-fast-requests-limit')).toBe('60');
    expect(fast.headers.get('anthropic-ratelimit-requests-limit')).toBeNull();
  });
});

describe('api model: what a real account sees', () => {
  const answer = (mode: ApiSpec['headers']['mode'], scale = 1) => {
    const m = new ApiModel(
      spec({
        limits: { requests: 100, input_tokens: 90_000, output_tokens: 30_000 },
        headers: { mode, scale },
      }),
      T0,
      new Rng(1),
    );
    const r = m.send(req({ inputTokens: 1234, maxTokens: 100 }), T0 + 60_000);
    return parseRateLimitHeaders(r.headers);
  };

  it('headers: exact, absent, overstated, understated, rounded to thousands', () => {
    const exact = answer('present');
    expect(exact.requests).toMatchObject({ limit: 100, remaining: 99 });
    expect(exact.input_tokens).toMatchObject({ limit: 90_000, remaining: 90_000 - 1234 });
    expect(answer('absent')).toEqual({});
    expect(answer('overstate', 2).requests).toMatchObject({ limit: 200, remaining: 198 });
    expect(answer('understate', 0.5).output_tokens).toMatchObject({ limit: 15_000 });
    const rounded = answer('rounded');
    expect(rounded.input_tokens?.remaining).toBe(88_000);
    expect(rounded.requests?.remaining).toBe(99);
  });

  it('limits change mid-run; another user of the key takes part of every refill', () => {
    const change = new ApiModel(
      spec({ limits: { ...huge, requests: 60 }, windowS: 1, limitChange: { atMs: 5000, factor: 2 } }),
      T0,
      new Rng(1),
    );
    // Before: 1 a second. After: capacity 2, refill 2 a second.
    expect(change.send(req(), T0 + 4000).status).toBe(200);
    expect(change.send(req(), T0 + 4000).status).toBe(429);
    expect(change.send(req(), T0 + 6000).status).toBe(200);
    expect(change.send(req(), T0 + 6000).status).toBe(200);
    expect(change.send(req(), T0 + 6000).status).toBe(429);
    const shared = new ApiModel(spec({ limits: { ...huge, requests: 60 }, otherUser: 0.5 }), T0, new Rng(1));
    // Half the refill: 30 of a minute's 60.
    for (let i = 0; i < 30; i++) expect(shared.send(req(), T0 + 60_000).status).toBe(200);
    expect(shared.send(req(), T0 + 60_000).status).toBe(429);
  });

  it('answers 529 during an overload burst, and only then', () => {
    const m = new ApiModel(spec({ overload: [{ startMs: 1000, durationMs: 500 }] }), T0, new Rng(1));
    expect(m.send(req(), T0 + 999).status).toBe(200);
    expect(m.send(req(), T0 + 1000).status).toBe(529);
    expect(m.send(req(), T0 + 1499).status).toBe(529);
    expect(m.send(req(), T0 + 1500).status).toBe(200);
  });

  it('latency: a heavy right tail, and long streams for long outputs', () => {
    const m = new ApiModel(spec({ latency: { ttftMs: 500, sigma: 1, tokensPerS: 50 } }), T0, new Rng(7));
    const lat = Array.from({ length: 400 }, (_, i) => {
      const r = m.send(req({ outputTokens: 1, maxTokens: 1 }), T0 + i);
      return r.status === 200 ? r.ttftMs : 0;
    }).sort((a, b) => a - b);
    const median = lat[200] as number;
    expect(median).toBeGreaterThan(350);
    expect(median).toBeLessThan(700);
    // lognormal σ=1: the 99th percentile is about 10× the median.
    expect((lat[396] as number) / median).toBeGreaterThan(5);
    const long = m.send(req({ outputTokens: 30_000, maxTokens: 32_000 }), T0 + 1000);
    expect(long.status === 200 && long.latencyMs).toBeGreaterThan(600_000);
  });
});

describe('ideal client', () => {
  const condition = (api: ApiSpec, maxTokens: number, out: [number, number]): Condition => ({
    id: 'test',
    seed: 1,
    index: 0,
    api,
    workload: [
      {
        input: [100, 200],
        prefixShare: 0,
        prefixes: 0,
        maxTokens,
        outFrac: out,
        estimateBias: 1,
        fastShare: 0,
      },
    ],
    processes: 1,
    slots: [10],
    durationMs: 120_000,
    expectedCalls: 0,
    warmupMs: 20_000,
  });

  it('uses the binding resource at its refill rate and is never refused', () => {
    const api = spec({ limits: { requests: 120, input_tokens: 1e9, output_tokens: 1e9 }, windowS: 1 });
    const m = idealRun(condition(api, 10, [0.5, 1]), 120_000);
    const c = m.sets[0]?.counters;
    expect(c?.refused429).toBe(0);
    // 100 s measured at 2 a second.
    expect(c?.usedMeasured.requests).toBeGreaterThanOrEqual(199);
    expect(c?.usedMeasured.requests).toBeLessThanOrEqual(201);
  });

  it('on output tokens: reaches the real output rate (max_tokens is held only while a call runs)', () => {
    const api = spec({ limits: { requests: 1e6, input_tokens: 1e9, output_tokens: 60_000 }, windowS: 10 });
    const m = idealRun(condition(api, 2000, [0.5, 0.5]), 120_000);
    const used = m.sets[0]?.counters.usedMeasured.output_tokens ?? 0;
    // 1000 tokens a second over 100 s, within 3%.
    expect(used / 100_000).toBeGreaterThan(0.97);
    expect(used / 100_000).toBeLessThan(1.03);
  });
});
