import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { defaults } from '../../src/core/defaults.js';
import { PromptQueue } from '../../src/producer/queue.js';
import type { RedisConnection } from '../../src/store/connection.js';
import type { CliProcess } from '../helpers/cli.js';
import { TestRedis } from '../helpers/redis-server.js';
import { uniqueQueue } from '../helpers/stack.js';
import { redisEnv, testRedis, testSettings } from '../helpers/topology.js';
import { finishEvents, reap, startWorker, until } from './helpers.js';

describe('chaos: graceful shutdown under load', () => {
  let sim: Simulator;
  let q: PromptQueue;
  let redis: RedisConnection;
  let queue: string;
  let env: Record<string, string>;
  const procs: CliProcess[] = [];
  afterEach(async () => {
    for (const p of procs.splice(0)) await reap(p);
    await q?.close();
    redis?.disconnect();
    await sim?.close();
  });

  async function setup(simOpts: SimulatorOptions, n: number): Promise<string[]> {
    sim = await startSimulator({ seed: 13, ...simOpts });
    queue = uniqueQueue();
    redis = testRedis();
    q = new PromptQueue({ connection: redis, queue, ...testSettings() });
    env = {
      ...redisEnv(),
      ANTHROPIC_API_KEY: 'sk-ant-chaos-0000000000',
      ANTHROPIC_BASE_URL: sim.url,
      PROMPTQ_QUEUE: queue,
      PROMPTQ_CONCURRENCY: '4',
      PROMPTQ_LOCK_DURATION_MS: '3000',
      PROMPTQ_STALLED_INTERVAL_MS: '1000',
    };
    const ids: string[] = [];
    for (let i = 0; i < n; i++)
      ids.push((await q.add({ model: 'claude-haiku-4-5', max_tokens: 200, prompt: `job ${i}` })).id);
    return ids;
  }

  /** After the run: every job completed, each reported once, no attempt beyond the first. */
  async function expectAllCompletedOnce(ids: string[]) {
    await until(
      async () => (await q.queue.getJobCounts('completed')).completed === ids.length,
      'all jobs to complete',
      60_000,
    );
    const ev = await finishEvents(redis, queue);
    expect(ev.failed.size).toBe(0);
    expect([...ev.completed.keys()].sort()).toEqual([...ids].sort());
    expect([...ev.completed.values()].every((c) => c === 1)).toBe(true);
  }

  it('SIGTERM: takes no new job, lets the in-flight ones finish, exits 0; nothing is lost', async () => {
    const ids = await setup({ ttftMs: 300, msPerToken: 5, output: { cap: 150 } }, 30);
    const w = await startWorker(env);
    procs.push(w);
    await until(() => sim.stats().inFlight >= 4, '4 calls in flight');
    const callsAtSignal = sim.stats().requests;
    w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    // No new call after the signal; the in-flight ones finished and none is left active.
    expect(sim.stats().requests).toBe(callsAtSignal);
    expect(sim.stats().inFlight).toBe(0);
    const counts = await q.queue.getJobCounts('active', 'completed', 'failed', 'wait', 'prioritized');
    expect(counts.active).toBe(0);
    expect(counts.failed).toBe(0);
    expect(counts.completed).toBeGreaterThanOrEqual(4);
    expect((counts.completed ?? 0) + (counts.wait ?? 0) + (counts.prioritized ?? 0)).toBe(ids.length);
    procs.push(await startWorker(env));
    await expectAllCompletedOnce(ids);
  });

  it('past the shutdown timeout, in-flight jobs go back to the queue (attempt not spent), exit 0', async () => {
    const ids = await setup({}, 8);
    sim.script(Array.from({ length: 4 }, () => ({ ok: true as const, delayMs: 20_000 })));
    const w = await startWorker({ ...env, PROMPTQ_SHUTDOWN_TIMEOUT_MS: '1000' });
    procs.push(w);
    await until(() => sim.stats().inFlight >= 4, '4 slow calls in flight');
    const t0 = Date.now();
    w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const counts = await q.queue.getJobCounts('active', 'completed', 'failed');
    expect(counts).toEqual({ active: 0, completed: 0, failed: 0 });
    for (const id of ids) expect((await q.get(id))!.record.attempts).toBe(0);
    procs.push(await startWorker(env));
    await expectAllCompletedOnce(ids);
    for (const id of ids) expect((await q.get(id))!.record.attempts).toBe(1);
  });

  it('a second signal forces the exit; the jobs it held go back to the queue at once and another worker completes them', async () => {
    const ids = await setup({}, 8);
    sim.script(Array.from({ length: 4 }, () => ({ ok: true as const, delayMs: 20_000 })));
    const w = await startWorker({ ...env, PROMPTQ_SHUTDOWN_TIMEOUT_MS: '60000' });
    procs.push(w);
    await until(() => sim.stats().inFlight >= 4, '4 slow calls in flight');
    w.proc.kill('SIGTERM');
    await w.waitForLog((l) => String(l.msg).startsWith('shutting down'));
    const t0 = Date.now();
    w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(1);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(w.logs().some((l) => String(l.msg).startsWith('forced shutdown'))).toBe(true);
    // The aborted calls' jobs went straight back to the queue, their attempts not spent.
    const counts = await q.queue.getJobCounts('active', 'completed', 'failed');
    expect(counts).toEqual({ active: 0, completed: 0, failed: 0 });
    for (const id of ids) expect((await q.get(id))!.record.attempts).toBe(0);
    procs.push(await startWorker(env));
    await expectAllCompletedOnce(ids);
  });

  it('Redis unreachable: SIGTERM still ends the process within the shutdown timeout plus the grace', async () => {
    // A Redis of its own, killed while the worker holds jobs: the drain can reach nothing.
    const own = new TestRedis();
    await own.start();
    try {
      sim = await startSimulator({ seed: 14 });
      queue = uniqueQueue();
      q = new PromptQueue({ redis: { url: own.url }, queue });
      redis = new Redis(own.url);
      for (let i = 0; i < 4; i++)
        await q.add({ model: 'claude-haiku-4-5', max_tokens: 50, prompt: `j ${i}` });
      sim.script(Array.from({ length: 4 }, () => ({ ok: true as const, delayMs: 60_000 })));
      const timeoutMs = 1000;
      const w = await startWorker({
        REDIS_URL: own.url,
        ANTHROPIC_API_KEY: 'sk-ant-chaos-0000000000',
        ANTHROPIC_BASE_URL: sim.url,
        PROMPTQ_QUEUE: queue,
        PROMPTQ_CONCURRENCY: '4',
        PROMPTQ_SHUTDOWN_TIMEOUT_MS: String(timeoutMs),
      });
      procs.push(w);
      await until(() => sim.stats().inFlight >= 4, '4 slow calls in flight');
      await q.close();
      redis.disconnect();
      await own.stop(true);
      const t0 = Date.now();
      w.proc.kill('SIGTERM');
      const code = await w.exited;
      const took = Date.now() - t0;
      const bound = timeoutMs + defaults.worker.shutdownGraceMs;
      console.log(`Redis unreachable: SIGTERM → exit ${code} after ${took} ms (bound ${bound} ms)`);
      // The drain could not finish (so the bound is what ended it), and the bound held.
      expect(code).toBe(1);
      expect(w.logs().some((l) => String(l.msg).startsWith('shutdown did not finish in time'))).toBe(true);
      // At the bound (timeout + the 5 s grace), give or take the process's own exit (~0.1 s measured).
      expect(defaults.worker.shutdownGraceMs).toBe(5000);
      expect(took).toBeGreaterThanOrEqual(bound - 500);
      expect(took).toBeLessThan(bound + 1000);
      // Every line it wrote meanwhile is JSON.
      for (const line of w
        .stderr()
        .split('\n')
        .filter((l) => l !== ''))
        expect(() => JSON.parse(line), line).not.toThrow();
    } finally {
      await own.destroy();
    }
  });
});
