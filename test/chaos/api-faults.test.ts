import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { type SimulatorOptions, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { post, type Stack, startStack } from '../helpers/stack.js';
import { testRedisMode } from '../helpers/topology.js';
import { finishEvents, until } from './helpers.js';

const rpm = 1200;
/** The fault load both runs meet: 40 % of calls fail one way or another, behind empty buckets. */
const faultLoad: SimulatorOptions = {
  seed: 11,
  faults: { overloaded: 0.15, apiError: 0.1, drop: 0.05, hang: 0.03, midstream: 0.07 },
  // Empty buckets refilling at `rpm`: a client that retried faster than the API's pace would
  // be answered 429 — the storm would show.
  limits: { rpm, itpm: 0, otpm: 0 },
  startEmpty: true,
};
/** The promise (README): under 1 % of promptq's requests answered 429 (its one discovery 429 of ~240). */
const promisedShare = 0.01;
/** The control's floor: a retry storm, many times the promise (a plain client sees about a third). */
const stormShare = 0.2;

const n = 150;
const concurrency = 64;

describe('chaos: API faults', () => {
  let s: Stack | undefined;
  afterEach(() => s?.close());

  it('under 529 bursts, 500s, drops, hangs and mid-stream overloads every job ends completed or failed with its reason, within its attempts, without a retry storm', async () => {
    const maxAttempts = 4;
    s = await startStack({
      sim: faultLoad,
      env: {
        PROMPTQ_MAX_ATTEMPTS: String(maxAttempts),
        PROMPTQ_REQUEST_TIMEOUT_MS: '500',
        PROMPTQ_RETRY_BASE_MS: '50',
        PROMPTQ_RETRY_MAX_MS: '1000',
        PROMPTQ_CONCURRENCY: String(concurrency),
      },
    });
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
    // The simulator's own counts: every request it received, and those it answered 429.
    const st = s.sim.stats();
    const attempts = views.reduce((a, v) => a + v!.record.attempts, 0);
    const rateLimited = st.rateLimited.total;
    console.log(
      `api faults: ${n} jobs, ${attempts} attempts, ${views.filter((v) => v!.state === 'failed').length} failed, ` +
        `${st.requests} requests, ${rateLimited} answered 429 (${((100 * rateLimited) / st.requests).toFixed(2)} %), ` +
        `peak in flight ${st.peakInFlight}`,
    );
    // No retry storm: retries went through the limiter, so few calls overran the API's pace.
    expect(rateLimited / st.requests).toBeLessThan(promisedShare);
    const reasons = new Set<string>();
    for (const v of views) {
      expect(['completed', 'failed']).toContain(v!.state);
      // Reported finished exactly once, one way.
      expect((ev.completed.get(v!.id) ?? 0) + (ev.failed.get(v!.id) ?? 0)).toBe(1);
      expect(v!.record.attempts).toBeGreaterThanOrEqual(1);
      expect(v!.record.attempts).toBeLessThanOrEqual(maxAttempts);
      for (const k of Object.keys(v!.record.retries)) reasons.add(k);
      if (v!.state === 'failed') {
        expect(v!.record.attempts).toBe(maxAttempts);
        expect(v!.error!.message).toMatch(new RegExp(`^gave up after ${maxAttempts} attempts: \\w+`));
      } else {
        expect(v!.result).not.toBeNull();
      }
    }
    // Every call the API saw is an attempt in some job's record: none hidden, none extra.
    expect(st.requests).toBe(attempts);
    // Each fault kind happened and was retried under its own reason; hangs were cut off by the timeout.
    expect(st.hangs).toBeGreaterThan(0);
    expect(st.midstreamErrors).toBeGreaterThan(0);
    expect([...reasons].sort()).toEqual(
      expect.arrayContaining(['network_error', 'overloaded', 'server_error', 'timeout']),
    );
  });

  it('control: the same fault load through a plain SDK client (its own retries, maxRetries 10, no limiter) is a retry storm', async (ctx) => {
    // Redis plays no part in the control: it runs once, on the single-server run, not per topology.
    if (testRedisMode() !== 'single') ctx.skip();
    const sim = await startSimulator(faultLoad);
    try {
      const client = new Anthropic({
        apiKey: 'sk-ant-test-control-0123456789',
        baseURL: sim.url,
        maxRetries: 10,
        timeout: 500,
      });
      let next = 0;
      const failed: unknown[] = [];
      // The same jobs, as many at once as promptq's worker ran, each streamed.
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let i = next++; i < n; i = next++) {
            try {
              await client.messages
                .stream({
                  model: 'claude-haiku-4-5',
                  max_tokens: 50,
                  messages: [{ role: 'user', content: `job ${i}` }],
                })
                .finalMessage();
            } catch (err) {
              failed.push(err);
            }
          }
        }),
      );
      const st = sim.stats();
      const share = st.rateLimited.total / st.requests;
      console.log(
        `api faults, control (plain SDK, maxRetries 10): ${n} jobs, ${st.requests} requests, ${failed.length} failed, ` +
          `${st.rateLimited.total} answered 429 (${(share * 100).toFixed(0)} %)`,
      );
      // The assertion the promptq run passes fails here, by far: the retries overran the API's pace.
      expect(share).toBeGreaterThanOrEqual(stormShare);
    } finally {
      await sim.close();
    }
  }, 120_000);
});
