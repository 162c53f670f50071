/**
 * `speed: "fast"` end to end (real Redis, the simulator as the API): fast calls are paced by the
 * model group's fast bucket, which the API announces in `anthropic-fast-*` headers, and standard
 * calls of the same model by the standard bucket. The simulator's own counts judge it: both
 * buckets start empty and refill slowly, so fast calls paced under the standard group's limits (or
 * the other way round) would be answered 429 by the bucket they really draw from.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { SharedLimiterState } from '../../src/limiter/shared-state.js';
import { accountFingerprint } from '../../src/providers/account.js';
import { get, post, type Stack, startStack, testApiKey } from '../helpers/stack.js';
import { testKeys } from '../helpers/topology.js';

const model = 'claude-opus-5-5';
const fastOtpm = 3_000;
const standardOtpm = 9_000;
const n = 12;

describe('speed "fast": its own bucket, its own pacing', () => {
  let s: Stack | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('12 fast and 12 standard Opus jobs: each kind paced by its bucket (no 429 past discovery), neither starves the other', async () => {
    s = await startStack({
      sim: {
        seed: 7,
        limits: { rpm: 60_000, itpm: 100_000_000, otpm: 100_000_000 },
        // Output tokens are the scarce resource: 50 a second for fast calls, 150 for standard ones.
        groupLimits: { opus: { otpm: standardOtpm }, 'opus-fast': { otpm: fastOtpm } },
        startEmpty: true,
      },
      env: { PROMPTQ_CONCURRENCY: '8' },
    });
    const job = (speed: 'fast' | 'standard', i: number) => ({
      model,
      max_tokens: 50,
      prompt: `${speed} ${i}`,
      ...(speed === 'fast' ? { speed } : {}),
    });
    // The fast jobs first: were they to hold the workers, the standard ones would wait behind them.
    const jobs = [
      ...Array.from({ length: n }, (_, i) => job('fast', i)),
      ...Array.from({ length: n }, (_, i) => job('standard', i)),
    ];
    const r = await post(`${s.url}/v1/jobs/batch`, { jobs });
    expect(r.status).toBe(202);
    const views = await Promise.all(
      (r.body.ids as string[]).map(async (id) => (await get(`${s!.url}/v1/jobs/${id}?wait=90`)).body),
    );
    const fast = views.filter((v) => v.request.speed === 'fast');
    const standard = views.filter((v) => v.request.speed === undefined);
    for (const v of views) expect(v.state).toBe('completed');
    for (const v of fast) expect(v.record.speed).toBe('fast');
    for (const v of standard) expect(v.record.speed).toBe('standard');

    const groups = s.sim.stats().groups;
    const f = groups['opus-fast']!;
    const st = groups.opus!;
    const last = (vs: typeof views) => Math.max(...vs.map((v) => Date.parse(v.record.finished_at)));
    console.log(
      `fast: ${f.succeeded} served, ${f.rateLimited.total} × 429; standard: ${st.succeeded} served, ` +
        `${st.rateLimited.total} × 429; last standard ${last(standard) - last(fast)} ms after last fast`,
    );
    expect(f.succeeded).toBe(n);
    expect(st.succeeded).toBe(n);
    // Each bucket held: at most its one discovery request met it empty.
    expect(f.rateLimited.total).toBeLessThanOrEqual(1);
    expect(st.rateLimited.total).toBeLessThanOrEqual(1);
    // The standard jobs, enqueued behind the fast ones, went at their own (faster) pace.
    expect(last(standard)).toBeLessThan(last(fast));

    // The limiter learned each bucket's limits exactly as the API announced them.
    const account = accountFingerprint(`${s.sim.url}|${testApiKey}`);
    const keys = testKeys(s.config.queue);
    const state = new SharedLimiterState(s.redis, defaults.limiter.tuning);
    expect((await state.read(keys.limiterGroup(account, 'opus-fast'))).limits.output_tokens).toBe(fastOtpm);
    expect((await state.read(keys.limiterGroup(account, 'opus'))).limits.output_tokens).toBe(standardOtpm);
  }, 120_000);
});
