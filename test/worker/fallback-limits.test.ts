/**
 * `fallback_models` against the fallback's own rate group: a job whose model is retired (404) moves
 * to its fallback, and the fallback's calls are admitted and paced by the limiter under the
 * fallback model's group, together with the jobs sent to that model directly — one allowance, as
 * the API enforces it. The API's own counts judge it: the fallback group's buckets start empty and
 * refill at 5 requests a second, so fallback calls paced apart (under the job's own model's group)
 * would come on top of the direct ones and be answered 429.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from '../helpers/stack.js';

const fallbackRpm = 300;
const n = 30;

describe('fallback_models: the fallback model is paced under its own rate group', () => {
  let s: Stack | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('30 jobs on a retired model fall back to Haiku beside 30 Haiku jobs: all 60 paced by Haiku’s one allowance (no 429 past its discovery)', async () => {
    s = await startStack({
      sim: {
        seed: 5,
        // Plenty for every group but Haiku's; Haiku's buckets start empty at 300 RPM (5 a second).
        limits: { rpm: 60_000, itpm: 100_000_000, otpm: 100_000_000 },
        groupLimits: { haiku: { rpm: fallbackRpm } },
        startEmpty: true,
      },
      env: { PROMPTQ_CONCURRENCY: '16' },
    });
    const jobs = Array.from({ length: n }, (_, i) => ({
      model: 'claude-2.1',
      fallback_models: ['claude-haiku-4-5'],
      max_tokens: 20,
      prompt: `fallback ${i}`,
    }));
    const direct = Array.from({ length: n }, (_, i) => ({
      model: 'claude-haiku-4-5',
      max_tokens: 20,
      prompt: `direct ${i}`,
    }));
    // Interleaved: both kinds wait in the queue together.
    const r = await post(`${s.url}/v1/jobs/batch`, { jobs: jobs.flatMap((j, i) => [j, direct[i]]) });
    expect(r.status).toBe(202);
    const views = await Promise.all(
      (r.body.ids as string[]).map(async (id) => (await get(`${s!.url}/v1/jobs/${id}?wait=60`)).body),
    );
    for (const v of views) {
      expect(v.state).toBe('completed');
      if (v.request.model === 'claude-haiku-4-5') expect(v.record.fallback_reason).toBeNull();
      else
        expect(v.record).toMatchObject({
          model: 'claude-2.1',
          served_model: 'claude-haiku-4-5',
          fallback_reason: 'not_found',
        });
    }
    const st = s.sim.stats();
    const haiku = st.groups.haiku!;
    const retired = st.groups['claude-2.1']!;
    console.log(
      `fallback: ${n} jobs falling back, ${n} direct; claude-2.1 ${retired.requests} requests (${retired.byStatus['404'] ?? 0} × 404); ` +
        `haiku ${haiku.requests} requests, ${haiku.succeeded} served, ${haiku.rateLimited.total} answered 429`,
    );
    // Each fallback job asked its retired model once, then Haiku.
    expect(retired.byStatus['404']).toBe(n);
    expect(haiku.succeeded).toBe(2 * n);
    // Haiku's one allowance held: at most the one discovery request met the empty bucket.
    expect(haiku.rateLimited.total).toBeLessThanOrEqual(1);
    expect(haiku.requests).toBe(2 * n + haiku.rateLimited.total);
  }, 90_000);
});
