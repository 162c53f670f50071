import { afterEach, describe, expect, it } from 'vitest';
import { post, type Stack, startStack } from '../helpers/stack.js';
import { finishEvents, until } from './helpers.js';

describe('chaos: API faults', () => {
  let s: Stack | undefined;
  afterEach(() => s?.close());

  it('under 529 bursts, 500s, drops, hangs and mid-stream overloads every job ends completed or failed with its reason, within its attempts, without a retry storm', async () => {
    const maxAttempts = 4;
    const rpm = 1200;
    s = await startStack({
      sim: {
        seed: 11,
        // 40 % of calls fail one way or another.
        faults: { overloaded: 0.15, apiError: 0.1, drop: 0.05, hang: 0.03, midstream: 0.07 },
        // Empty buckets refilling at `rpm`: a client that retried faster than the API's pace would
        // be answered 429 — the storm would show.
        limits: { rpm, itpm: 0, otpm: 0 },
        startEmpty: true,
      },
      env: {
        PROMPTQ_MAX_ATTEMPTS: String(maxAttempts),
        PROMPTQ_REQUEST_TIMEOUT_MS: '500',
        PROMPTQ_RETRY_BASE_MS: '50',
        PROMPTQ_RETRY_MAX_MS: '1000',
        PROMPTQ_CONCURRENCY: '8',
      },
    });
    const n = 150;
    const jobs = Array.from({ length: n }, (_, i) => ({
      model: 'claude-haiku-4-5',
      max_tokens: 50,
      prompt: `job ${i}`,
    }));
    const r = await post(`${s.url}/v1/jobs/batch`, { jobs });
    expect(r.status).toBe(202);
    const ids = r.body.ids as string[];
    const stack = s;
    await until(
      async () => {
        const c = await stack.bull.getJobCounts('completed', 'failed');
        return (c.completed ?? 0) + (c.failed ?? 0) === n;
      },
      'every job to finish',
      150_000,
    );
    const views = await Promise.all(ids.map((id) => stack.svc.queue.get(id)));
    const ev = await finishEvents(s.redis, s.config.queue);
    let attempts = 0;
    const reasons = new Set<string>();
    for (const v of views) {
      expect(['completed', 'failed']).toContain(v!.state);
      // Reported finished exactly once, one way.
      expect((ev.completed.get(v!.id) ?? 0) + (ev.failed.get(v!.id) ?? 0)).toBe(1);
      expect(v!.record.attempts).toBeGreaterThanOrEqual(1);
      expect(v!.record.attempts).toBeLessThanOrEqual(maxAttempts);
      attempts += v!.record.attempts;
      for (const k of Object.keys(v!.record.retries)) reasons.add(k);
      if (v!.state === 'failed') {
        expect(v!.record.attempts).toBe(maxAttempts);
        expect(v!.error!.message).toMatch(new RegExp(`^gave up after ${maxAttempts} attempts: \\w+`));
      } else {
        expect(v!.result).not.toBeNull();
      }
    }
    const st = s.sim.stats();
    // Every call the API saw is an attempt in some job's record: none hidden, none extra.
    expect(st.requests).toBe(attempts);
    // Each fault kind happened and was retried under its own reason; hangs were cut off by the timeout.
    expect(st.hangs).toBeGreaterThan(0);
    expect(st.midstreamErrors).toBeGreaterThan(0);
    expect([...reasons].sort()).toEqual(
      expect.arrayContaining(['network_error', 'overloaded', 'server_error', 'timeout']),
    );
    // No retry storm: retries went through the limiter, so few calls overran the API's pace.
    const rateLimited = st.rateLimited.total;
    console.log(
      `api faults: ${n} jobs, ${attempts} attempts, ${views.filter((v) => v!.state === 'failed').length} failed, ` +
        `${rateLimited} answered 429, peak in flight ${st.peakInFlight}`,
    );
    expect(rateLimited / st.requests).toBeLessThan(0.2);
  });
});
