/**
 * The lab's harness (scripts/lab/client.ts) drives the real limiter on a real Redis in virtual time,
 * and it can fail: a client that never waits is caught by its 429 share, a limiter that holds back
 * too much by its utilisation — both on the same condition on which promptq's limiter passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiSpec } from '../../scripts/lab/api-model.js';
import { type HarnessOptions, runCondition, stepBudget } from '../../scripts/lab/client.js';
import { type Condition, conditionById } from '../../scripts/lab/conditions.js';
import { labRedis } from '../../scripts/lab/runner.js';

/** Headers present, 600 RPM over 5-second windows, short calls: request-bound. */
function requestBound(processes: number): Condition {
  const api: ApiSpec = {
    families: [
      {
        model: 'claude-haiku-4-5',
        limits: { requests: 600, input_tokens: 10_000_000, output_tokens: 1_000_000 },
        cacheReadsCount: false,
      },
    ],
    windowS: 5,
    headers: { mode: 'present', scale: 1 },
    otherUser: 0,
    overload: [],
    latency: { ttftMs: 200, sigma: 0.3, tokensPerS: 100 },
  };
  return {
    id: 'harness-test',
    seed: 7,
    index: 0,
    api,
    workload: [
      {
        input: [100, 300],
        prefixShare: 0,
        prefixes: 0,
        maxTokens: 40,
        outFrac: [0.5, 1],
        estimateBias: 1,
        fastShare: 0,
      },
    ],
    processes,
    slots: [8],
    durationMs: 40_000,
    expectedCalls: 400,
    warmupMs: 6_000,
  };
}

describe('lab harness (real limiter, real Redis, virtual time)', () => {
  let redis: Awaited<ReturnType<typeof labRedis>>;
  beforeAll(async () => {
    redis = await labRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });
  const run = async (c: Condition, opts: HarnessOptions = {}) => {
    const r = await runCondition(c, redis.conns, opts);
    await redis.flush();
    return r;
  };

  it('runs 40 virtual seconds of the real limiter in far less real time, and it passes there', async () => {
    const r = await run(requestBound(2));
    expect(r.stalled).toBe(false);
    expect(r.virtualMs).toBe(40_000);
    expect(r.realMs).toBeLessThan(20_000);
    // 600 RPM for 40 s: about 400 requests reached the API (refused ones counted).
    expect(r.arrivals).toBeGreaterThan(300);
    expect(r.sets[0]?.binding).toBe('requests');
    expect(r.utilisation).toBeGreaterThanOrEqual(0.9);
    expect(r.share429).toBeLessThanOrEqual(0.03);
    expect(r.failedForRateLimits).toBe(0);
  });

  it('control: a client that never waits gets a large 429 share — and all of the ideal (it is reachable)', async () => {
    const r = await run(requestBound(2), { client: 'none' });
    expect(r.share429).toBeGreaterThan(0.3);
    expect(r.wasted).toBeGreaterThan(r.arrivals / 3);
    // It never waits, so it is never handed back.
    expect(r.handedBack).toBe(0);
    // Hammering takes every request the API would take: the ideal is no more than the API serves.
    expect(r.utilisation).toBeGreaterThan(0.97);
    expect(r.utilisation).toBeLessThan(1.03);
  });

  it('control: a limiter that aims at half the limit gets about half the utilisation', async () => {
    const r = await run(requestBound(1), { tuning: { target: 0.5 } });
    expect(r.utilisation).toBeLessThan(0.6);
    expect(r.utilisation).toBeGreaterThan(0.4);
  });

  it('a condition whose ideal client used no bucket set after the warm-up has no utilisation (not 0)', async () => {
    // The warm-up is the whole run: nothing is measured, by either client.
    const r = await run({ ...requestBound(1), durationMs: 10_000, warmupMs: 10_000 });
    expect(r.stalled).toBe(false);
    expect(r.arrivals).toBeGreaterThan(50);
    expect(r.sets).toEqual([]);
    expect(r.utilisation).toBeNull();
  });

  it('a fast call is paced in its own group, by its anthropic-fast-* headers: the fast bucket (OTPM-bound) is not overrun', async () => {
    // The fast bucket's output tokens: 12,000 a minute, 5 calls of 40 a second, calls of 8 s (40
    // tokens at 5 a second). Its limits reach promptq only in the answers' anthropic-fast-* headers,
    // which the provider parses for a fast call (a fast answer announces no requests limit); read
    // as the standard headers they are none, and promptq learns the fast group as header-less: 60
    // RPM until its first calls end.
    const c = requestBound(1);
    const fam = c.api.families[0]!;
    const api = {
      ...c.api,
      families: [{ ...fam, fast: { ...fam.limits, output_tokens: 12_000 } }],
      latency: { ttftMs: 200, sigma: 0.2, tokensPerS: 5 },
    };
    const workload = [{ ...c.workload[0]!, fastShare: 0.5, outFrac: [1, 1] as [number, number] }];
    const r = await run({ ...c, api, workload, slots: [300], durationMs: 12_000, warmupMs: 3_000 });
    const fast = r.sets.find((s) => s.fast);
    expect(fast?.binding).toBe('output_tokens');
    expect(fast?.utilisation).toBeGreaterThan(0.8);
    expect(r.share429).toBeLessThanOrEqual(0.05);
    expect(r.failedForRateLimits).toBe(0);
  });

  it("--slots tuner: four processes' own tuners hold about what the account needs in flight, and fill it", async () => {
    // 3,000 RPM (50 a second) and calls of about 2.4 s: about 120 in flight needed, over 4 processes.
    const base = requestBound(4);
    const fam = base.api.families[0]!;
    const c: Condition = {
      ...base,
      api: {
        ...base.api,
        families: [{ ...fam, limits: { ...fam.limits, requests: 3_000 } }],
        latency: { ttftMs: 2_000, sigma: 0.3, tokensPerS: 100 },
      },
      slots: [40],
      durationMs: 30_000,
      expectedCalls: 1_500,
      warmupMs: 6_000,
    };
    const r = await run(c, { slots: 'tuner' });
    const { ttftMs, sigma } = c.api.latency;
    const needed = 50 * ((ttftMs * Math.exp((sigma * sigma) / 2) + (30 / 100) * 1000) / 1000);
    expect(r.stalled).toBe(false);
    expect(r.utilisation).toBeGreaterThanOrEqual(0.9);
    expect(r.share429).toBeLessThanOrEqual(0.03);
    // Each sized for its quarter (× 1.5 + 2), not for the whole account (4 × 1.5 × needed: 720).
    expect(r.peakSlots).toBeGreaterThanOrEqual(needed);
    expect(r.peakSlots).toBeLessThanOrEqual(2 * needed);
  });

  it("calls with a cached prefix go when the writer's first token arrives, not when its long answer ends", async () => {
    // One prefix, answers of 10 s (300 tokens at 30/s) that begin after about 200 ms: the worker
    // relays the first content_block_delta (permit.observeFirstToken), and the calls waiting for
    // the prefix's write go then. Were the answer's end taken for its beginning, one call would
    // go in the first 10 s.
    const c = requestBound(1);
    const w = { ...c.workload[0]!, input: [2000, 2400] as [number, number], prefixShare: 0.9, prefixes: 1 };
    const api = { ...c.api, latency: { ttftMs: 200, sigma: 0.2, tokensPerS: 30 } };
    const r = await run({
      ...c,
      api,
      workload: [{ ...w, maxTokens: 300, outFrac: [1, 1] }],
      slots: [120],
      durationMs: 9_000,
      warmupMs: 3_000,
    });
    expect(r.arrivals).toBeGreaterThan(40);
    expect(r.utilisation).toBeGreaterThan(0.8);
  });

  it('a condition whose slots wait most of the run is within its step budget (22022:172: 95 slots, 334 s)', async () => {
    const c = conditionById('22022:172');
    const r = await run(c);
    // Each waiting slot may look once per 5 s: 95 slots × 67 periods, and its calls.
    expect(stepBudget(c)).toBeGreaterThan(95 * 67);
    // …every slot handed back (and counted) while it waits.
    expect(r.handedBack).toBeGreaterThan(95);
    expect(r.stalled).toBe(false);
    expect(r.virtualMs).toBe(c.durationMs);
  });
});
