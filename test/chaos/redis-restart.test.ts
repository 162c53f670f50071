import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ServedResponse,
  type Simulator,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { Keyspace } from '../../src/store/keys.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { TestRedis } from '../helpers/redis-server.js';
import { uniqueQueue } from '../helpers/stack.js';
import { finishEvents, reap, startWorker, until } from './helpers.js';

/** A request with a deadline: "answers 503 instead of hanging" is checked by it not timing out. */
async function call(url: string, init: RequestInit = {}) {
  const started = Date.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as any;
  return { status: res.status, body, ms: Date.now() - started, retryAfter: res.headers.get('retry-after') };
}

const jobs = (from: number, n: number) =>
  JSON.stringify({
    jobs: Array.from({ length: n }, (_, i) => ({
      model: 'claude-haiku-4-5',
      max_tokens: 100,
      prompt: `job ${from + i}`,
    })),
  });
const postJson = (body: string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body,
});

describe('chaos: Redis restarted mid-run', () => {
  let redisServer: TestRedis;
  let sim: Simulator;
  let redis: Redis | undefined;
  const procs: CliProcess[] = [];
  afterEach(async () => {
    for (const p of procs.splice(0)) await reap(p);
    redis?.disconnect();
    await sim?.close();
    await redisServer?.destroy();
  });

  it('API and workers reconnect on their own; /readyz and the API say 503 while it is down; no accepted job is lost', async () => {
    redisServer = new TestRedis({ appendonly: true });
    await redisServer.start();
    const served: ServedResponse[] = [];
    sim = await startSimulator({ seed: 9, ttftMs: 100, msPerToken: 2, onServed: (r) => served.push(r) });
    const queue = uniqueQueue();
    const env = {
      // A job the worker was fetching when Redis went down can be left active without an owner
      // (the fetch ran, its reply was lost): only the stalled check frees it, after its lock
      // expires. Short locks keep that to seconds here; in production it is lock + stalled interval.
      PROMPTQ_LOCK_DURATION_MS: '4000',
      PROMPTQ_STALLED_INTERVAL_MS: '2000',
      REDIS_URL: redisServer.url,
      ANTHROPIC_API_KEY: 'sk-ant-chaos-0000000000',
      ANTHROPIC_BASE_URL: sim.url,
      PROMPTQ_QUEUE: queue,
    };
    // Short deadlines: an enqueue waits 1.5 s for Redis (PROMPTQ_ENQUEUE_TIMEOUT_MS), a read 1 s.
    const api = spawnCli(['api'], {
      ...env,
      PORT: '0',
      PROMPTQ_ENQUEUE_TIMEOUT_MS: '1500',
      PROMPTQ_REDIS_TIMEOUT_MS: '1000',
    });
    procs.push(api);
    const apiUrl = String((await api.waitForLog((l) => l.msg === 'promptq running')).url);
    const w1 = await startWorker({ ...env, PROMPTQ_CONCURRENCY: '4' });
    const w2 = await startWorker({ ...env, PROMPTQ_CONCURRENCY: '4' });
    procs.push(w1, w2);

    const ids: string[] = [];
    const first = await call(`${apiUrl}/v1/jobs/batch`, postJson(jobs(0, 60)));
    expect(first.status).toBe(202);
    ids.push(...first.body.ids);
    await until(() => served.length >= 5 && sim.stats().inFlight > 0, 'work under way');

    // A clean restart (SIGTERM: Redis writes its AOF out first), as in an upgrade or a failover.
    await redisServer.stop();
    for (const url of [`${apiUrl}/readyz`, `${w1.url}/readyz`]) {
      const r = await call(url);
      expect(r.status).toBe(503);
      expect(r.ms).toBeLessThan(2000);
    }
    // A valid job (accepted once Redis is back, below): refused for Redis, not for its body.
    const one = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 100, prompt: 'while down' });
    // It waits out its deadline for Redis to come back (a failover would be over by then), then 503.
    const refused = await call(`${apiUrl}/v1/jobs`, postJson(one));
    expect(refused.status).toBe(503);
    expect(refused.body.error.type).toBe('unavailable');
    expect(refused.retryAfter).toBe('2');
    expect(refused.ms).toBeGreaterThanOrEqual(1400);
    expect(refused.ms).toBeLessThan(3500);
    // Nothing else waits past PROMPTQ_REDIS_TIMEOUT_MS either.
    const lookup = await call(`${apiUrl}/v1/jobs/${ids[0]}`);
    expect(lookup.status).toBe(503);
    expect(lookup.retryAfter).toBe('2');
    expect(lookup.ms).toBeLessThan(3000);

    await redisServer.start();
    await until(async () => (await call(`${apiUrl}/readyz`)).status === 200, 'the API to reconnect', 30_000);
    await until(async () => (await call(`${w1.url}/readyz`)).status === 200, 'worker 1 to reconnect', 30_000);
    const second = await call(`${apiUrl}/v1/jobs/batch`, postJson(jobs(200, 20)));
    expect(second.status).toBe(202);
    ids.push(...second.body.ids);
    // The control: the body refused while Redis was down is accepted now.
    const again = await call(`${apiUrl}/v1/jobs`, postJson(one));
    expect(again.status).toBe(202);
    ids.push(again.body.id);

    redis = new Redis(redisServer.url);
    await until(
      async () => (await redis!.zcard(new Keyspace({ queue: queue }).bullmq('completed'))) === ids.length,
      'every accepted job to complete',
      90_000,
    );
    const ev = await finishEvents(redis, queue);
    expect(ev.failed.size).toBe(0);
    expect([...ev.completed.keys()].sort()).toEqual([...ids].sort());
    expect([...ev.completed.values()].every((c) => c === 1)).toBe(true);
    // Nobody died on the way.
    for (const p of [api, w1, w2]) expect(p.proc.exitCode).toBeNull();
    const view = await call(`${apiUrl}/v1/jobs/${ids[0]}`);
    expect(view.body.state).toBe('completed');
  });
});
