/**
 * A waiting job's `position` and `eta_s`: with the simulator announcing 60 requests a minute, the
 * limiter paces the group at about one call a second; a job queued behind others is told how many
 * are ahead of it and when it should start, and the estimate is checked against the wait measured
 * until its first attempt starts — within max(2 s, 30 %) of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, post, type Stack, startStack } from '../helpers/stack.js';
import { until } from './webhook-helpers.js';

describe('position and ETA of a waiting job', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ sim: { limits: { rpm: 60 } } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const job = (id: string) => ({ id, model: 'claude-haiku-4-5', max_tokens: 8, prompt: `hi ${id}` });

  it('tells a waiting job its position and an ETA close to the measured wait', async () => {
    // Warm-up: the group's limits are discovered and its pace recorded.
    for (const id of ['w-1', 'w-2']) expect((await post(`${stack.url}/v1/jobs`, job(id))).status).toBe(202);
    await until(async () =>
      (await get(`${stack.url}/v1/jobs/w-2?wait=20`)).body.state === 'completed' ? true : undefined,
    );
    await until(async () => (await stack.redis.hget(stack.svc.queue.keys.pace, 'haiku')) ?? undefined);

    const ids = Array.from({ length: 10 }, (_, i) => `q-${i}`);
    expect((await post(`${stack.url}/v1/jobs/batch`, { jobs: ids.map(job) })).status).toBe(202);
    const last = ids.at(-1)!;
    const view = (await get(`${stack.url}/v1/jobs/${last}`)).body;
    const readAt = Date.now();
    expect(view.state).toBe('waiting');
    // Jobs ahead of it in the queue: at most the 9 before it; those a worker holds already (active,
    // waiting on the limiter) are not in the queue, so fewer — but some (60 rpm, 10 jobs at once).
    const counts = await stack.svc.queue.queue.getJobCounts('active', 'delayed', 'completed');
    expect(view.position).toBeLessThanOrEqual(9);
    expect(view.position).toBeGreaterThanOrEqual(1);
    // Every one of the 9 is ahead in the queue or already taken (the two warm-up jobs completed).
    expect(view.position + counts.active! + counts.delayed! + counts.completed! - 2).toBeGreaterThanOrEqual(
      9,
    );
    expect(typeof view.eta_s).toBe('number');
    // Measured: until its first attempt started (its record's started_at).
    const done = (await until(async () => {
      const r = (await get(`${stack.url}/v1/jobs/${last}?wait=30`)).body;
      return r.state === 'completed' ? r : undefined;
    }, 60_000)) as { record: { started_at: string } };
    const measuredS = (Date.parse(done.record.started_at) - readAt) / 1000;
    const tolerance = Math.max(2, 0.3 * measuredS);
    console.log(
      `position ${view.position}, eta_s ${view.eta_s}, measured ${measuredS.toFixed(1)} s, tolerance ±${tolerance.toFixed(1)} s`,
    );
    expect(Math.abs(view.eta_s - measuredS)).toBeLessThanOrEqual(tolerance);
    // Not waiting any more: no position.
    expect((done as { position?: number }).position).toBeUndefined();
  }, 90_000);
});
