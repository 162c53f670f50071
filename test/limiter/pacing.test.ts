import { afterEach, describe, expect, it } from 'vitest';
import type { Arrival, ServedResponse } from '../../packages/anthropic-simulator/src/index.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';
import { maxInWindow } from '../helpers/windows.js';

async function runBatch(s: Stack, jobs: Array<Record<string, unknown>>) {
  const r = await post(`${s.url}/v1/jobs/batch`, { jobs });
  expect(r.status).toBe(202);
  const ids = r.body.ids as string[];
  const views = [];
  for (const id of ids) views.push((await get(`${s.url}/v1/jobs/${id}?wait=60`)).body);
  return views;
}

describe('adaptive limiter against the simulator (no limits configured)', () => {
  let s: Stack;
  afterEach(() => s?.close());

  it('discovers the limit and never lets a 1-second window exceed it (short-interval guard on): no 429 after discovery', async () => {
    // Every request that reached the simulator's limits, refused ones included: the simulator's own
    // buckets bound what it admits, so only the arrivals can show a client that does not pace.
    const arrived: Arrival[] = [];
    s = await startStack({
      sim: {
        limits: { rpm: 600, itpm: 0, otpm: 0 },
        shortIntervalSeconds: 1,
        startEmpty: true,
        ttftMs: 5,
        onArrival: (a) => arrived.push(a),
      },
      env: { PROMPTQ_CONCURRENCY: '20' },
    });
    const jobs = Array.from({ length: 50 }, (_, i) => ({
      model: 'claude-haiku-4-5',
      max_tokens: 20,
      prompt: `job ${i}`,
    }));
    const views = await runBatch(s, jobs);
    // 600 RPM = 10 per second; the hidden guard is a 10-request bucket refilled at 10/s.
    const arrivals = arrived.map((a) => a.at);
    expect(maxInWindow(arrivals, 1000)).toBeLessThanOrEqual(20);
    expect(maxInWindow(arrivals, 500)).toBeLessThanOrEqual(15);
    // Evenly spread: no burst of a whole second's allowance within 100 ms.
    expect(maxInWindow(arrivals, 100)).toBeLessThanOrEqual(10);
    expect(views.every((v) => v.state === 'completed')).toBe(true);
    // Every job's one call, plus at most the discovery request's 429: the server's bucket starts
    // empty and nothing is known before it.
    expect(arrived.length).toBeLessThanOrEqual(51);
    expect(s.sim.stats().rateLimited.total).toBeLessThanOrEqual(1);
    const m = (await get(`${s.url}/metrics`)).body.text as string;
    expect(m).toContain('promptq_limiter_limit{group="haiku",resource="requests"} 600');
    expect(s.logs.some((l) => l.msg === 'rate limits discovered' && l.rpm === 600)).toBe(true);
  });

  it('paces input tokens: prompts of very different sizes, no 429 after discovery, tokens per window within the limit', async () => {
    const arrived: Arrival[] = [];
    s = await startStack({
      sim: {
        limits: { rpm: 0, itpm: 60_000, otpm: 0 },
        shortIntervalSeconds: 1,
        startEmpty: true,
        ttftMs: 5,
        onArrival: (a) => arrived.push(a),
      },
    });
    const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i % 50}`).join(' ');
    const jobs = Array.from({ length: 20 }, (_, i) => ({
      model: 'claude-haiku-4-5',
      max_tokens: 20,
      prompt: words(i % 3 === 0 ? 600 : 30),
    }));
    const views = await runBatch(s, jobs);
    // Input tokens sent in any 1 s window, refused requests included, ≤ the 1 s bucket (1000) + 1 s
    // of refill (1000) + one oversized prompt.
    const sorted = [...arrived].sort((a, b) => a.at - b.at);
    const biggest = Math.max(...sorted.map((a) => a.inputTokens));
    let most = 0;
    for (let i = 0; i < sorted.length; i++) {
      let sum = 0;
      for (let j = i; j < sorted.length && sorted[j]!.at - sorted[i]!.at < 1000; j++) {
        sum += sorted[j]!.inputTokens;
      }
      most = Math.max(most, sum);
    }
    expect(most).toBeLessThanOrEqual(2000 + biggest);
    expect(views.every((v) => v.state === 'completed')).toBe(true);
    expect(arrived.length).toBeLessThanOrEqual(21);
    expect(s.sim.stats().rateLimited.total).toBeLessThanOrEqual(1);
  });

  it('fair between tenants: a small tenant behind a big backlog is served before the backlog', async () => {
    const served: ServedResponse[] = [];
    s = await startStack({
      sim: { limits: { rpm: 1200, itpm: 0, otpm: 0 }, ttftMs: 5, onServed: (r) => served.push(r) },
      env: { PROMPTQ_CONCURRENCY: '4' },
    });
    const big = Array.from({ length: 120 }, (_, i) => ({
      model: 'claude-haiku-4-5',
      max_tokens: 5,
      prompt: `b${i}`,
      tenant_id: 'big',
    }));
    const bigIds = (await post(`${s.url}/v1/jobs/batch`, { jobs: big })).body.ids as string[];
    const small = Array.from({ length: 5 }, (_, i) => ({
      model: 'claude-haiku-4-5',
      max_tokens: 5,
      prompt: `s${i}`,
      tenant_id: 'small',
    }));
    const smallIds = (await post(`${s.url}/v1/jobs/batch`, { jobs: small })).body.ids as string[];
    for (const id of smallIds)
      expect((await get(`${s.url}/v1/jobs/${id}?wait=60`)).body.state).toBe('completed');
    // When the last small job finished, most of the big backlog was still waiting.
    const bigDone = served.filter((r) => r.userId === 'big').length;
    expect(bigDone).toBeLessThan(40);
    for (const id of bigIds) await get(`${s.url}/v1/jobs/${id}?wait=60`);
  });

  it("chooses concurrency from the discovered rate and the observed latency (Little's law)", async () => {
    s = await startStack({ sim: { limits: { rpm: 1200, itpm: 0, otpm: 0 }, ttftMs: 1500 } });
    expect(s.svc.worker!.worker.concurrency).toBe(16);
    const jobs = Array.from({ length: 100 }, (_, i) => ({
      model: 'claude-haiku-4-5',
      max_tokens: 5,
      prompt: `c${i}`,
    }));
    const ids = (await post(`${s.url}/v1/jobs/batch`, { jobs })).body.ids as string[];
    for (const id of ids) expect((await get(`${s.url}/v1/jobs/${id}?wait=60`)).body.state).toBe('completed');
    // 20 requests/s × ~1.5 s per call ≈ 30 in flight needed; 16 would cap throughput near 10/s.
    const adjusted = s.logs.filter((l) => l.msg === 'concurrency adjusted');
    expect(adjusted.length).toBeGreaterThan(0);
    expect(s.svc.worker!.worker.concurrency).toBeGreaterThan(30);
    expect(s.svc.worker!.worker.concurrency).toBeLessThanOrEqual(256);
  });
});
