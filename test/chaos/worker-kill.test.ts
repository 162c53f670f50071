import { afterEach, describe, expect, it } from 'vitest';
import {
  type ServedResponse,
  type Simulator,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { PromptQueue } from '../../src/producer/queue.js';
import type { RedisConnection } from '../../src/store/connection.js';
import { RollupStore } from '../../src/store/rollup-store.js';
import type { CliProcess } from '../helpers/cli.js';
import { uniqueQueue } from '../helpers/stack.js';
import { redisEnv, testKeys, testRedis, testSettings } from '../helpers/topology.js';
import { finishEvents, metricSum, reap, startWorker, until } from './helpers.js';

// Short locks so the test sees a dead worker's jobs taken over in seconds, not a minute.
const fastLocks = { PROMPTQ_LOCK_DURATION_MS: '2000', PROMPTQ_STALLED_INTERVAL_MS: '1000' };

/** Jobs the queue's rollups count (the per-day counters of today and yesterday, every tenant). */
async function rolledUpJobs(redis: RedisConnection, queue: string): Promise<number> {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const days = await new RollupStore(redis, testKeys(queue)).days([
    day(Date.now() - 86_400_000),
    day(Date.now()),
  ]);
  let jobs = 0;
  for (const tenants of days) for (const c of Object.values(tenants)) jobs += c.jobs;
  return jobs;
}

describe('chaos: workers killed or frozen mid-run', () => {
  let sim: Simulator;
  let q: PromptQueue;
  let redis: RedisConnection;
  const procs: CliProcess[] = [];
  afterEach(async () => {
    for (const p of procs.splice(0)) {
      if (p.proc.signalCode === 'SIGSTOP' || p.proc.exitCode === null) p.proc.kill('SIGCONT');
      await reap(p);
    }
    await q?.close();
    redis?.disconnect();
    await sim?.close();
  });

  async function setup(served: ServedResponse[], simOpts: Parameters<typeof startSimulator>[0] = {}) {
    sim = await startSimulator({ seed: 5, onServed: (r) => served.push(r), ...simOpts });
    const queue = uniqueQueue();
    redis = testRedis();
    q = new PromptQueue({ connection: redis, queue, ...testSettings() });
    const env = {
      ...redisEnv(),
      ANTHROPIC_API_KEY: 'sk-ant-chaos-0000000000',
      ANTHROPIC_BASE_URL: sim.url,
      PROMPTQ_QUEUE: queue,
    };
    return { queue, env };
  }

  it('SIGKILL with jobs in flight: another worker takes them over; every job completes, each reported once', async () => {
    const served: ServedResponse[] = [];
    // ~1 s per call: jobs are surely in flight when the worker dies.
    const { queue, env } = await setup(served, { ttftMs: 300, msPerToken: 5, output: { cap: 150 } });
    const n = 40;
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(
        (await q.add({ model: 'claude-haiku-4-5', max_tokens: 200, prompt: `job ${i}`, tenant_id: `t${i}` }))
          .id,
      );
    }
    const a = await startWorker({ ...env, ...fastLocks, PROMPTQ_CONCURRENCY: '4' });
    procs.push(a);
    await until(() => sim.stats().inFlight >= 4, 'worker A to have 4 calls in flight');
    const b = await startWorker({ ...env, ...fastLocks, PROMPTQ_CONCURRENCY: '4' });
    procs.push(b);
    a.proc.kill('SIGKILL');
    await a.exited;
    const doneByA = (await q.queue.getJobCounts('completed')).completed ?? 0;

    await until(
      async () => (await q.queue.getJobCounts('completed')).completed === n,
      'all jobs completed',
      90_000,
    );
    const ev = await finishEvents(redis, queue);
    expect(ev.failed.size).toBe(0);
    expect([...ev.completed.keys()].sort()).toEqual([...ids].sort());
    expect([...ev.completed.values()].every((c) => c === 1)).toBe(true);

    const views = await Promise.all(ids.map((id) => q.get(id)));
    // The attempt cut short by the kill was counted (it was spent), and the job went on.
    const takenOver = views.filter((v) => v!.record.attempts === 2);
    expect(takenOver.length).toBeGreaterThanOrEqual(1);
    expect(takenOver.length).toBeLessThanOrEqual(4);
    // Each job A held when it died was found stalled once and put back.
    expect(ev.stalled).toBeGreaterThanOrEqual(takenOver.length);
    for (const v of views) {
      expect(v!.state).toBe('completed');
      expect(v!.result).not.toBeNull();
      expect(v!.record.attempts).toBeLessThanOrEqual(2);
      // The record names the call whose message the user got.
      const mine = served.filter((s) => s.userId === v!.request.tenant_id && s.outcome === 'completed');
      expect(mine.map((s) => s.requestId)).toContain(v!.record.request_id);
    }
    // Only the calls in flight on the dead worker were made twice.
    expect(served.filter((s) => s.outcome === 'completed').length).toBeLessThanOrEqual(n + 4);
    // B's /metrics counts each job it finished once: all those A had not finished before it died.
    const text = await (await fetch(`${b.url}/metrics`)).text();
    expect(metricSum(text, 'promptq_jobs_total', { status: 'completed' })).toBe(n - doneByA);
  });

  it('a frozen worker that wakes after losing its lock does not record the job again', async () => {
    const served: ServedResponse[] = [];
    const { queue, env } = await setup(served);
    // The first call answers after 1.5 s (while A is frozen), the takeover's at once.
    sim.script([{ ok: true, delayMs: 1500 }, { ok: true }]);
    const a = await startWorker({ ...env, ...fastLocks, PROMPTQ_LOG_LEVEL: 'debug' });
    procs.push(a);
    const { id } = await q.add({ model: 'claude-haiku-4-5', max_tokens: 50, prompt: 'freeze me' });
    await until(() => sim.stats().inFlight === 1, 'A to call the API');
    a.proc.kill('SIGSTOP');
    // Nothing has finished yet: the rollups count no job.
    expect(await rolledUpJobs(redis, queue)).toBe(0);
    const b = await startWorker({ ...env, ...fastLocks, PROMPTQ_LOG_LEVEL: 'debug' });
    procs.push(b);
    await until(async () => (await q.get(id))?.state === 'completed', 'B to complete the job', 30_000);
    const before = (await q.get(id))!;
    // The control: B's normal finish is one `finished` event (its debug line) and one rollup count.
    const finishedIn = (p: CliProcess) =>
      p.logs().filter((l) => l.msg === 'job finished' && l.job_id === id).length;
    await b.waitForLog((l) => l.msg === 'job finished' && l.job_id === id);
    await until(async () => (await rolledUpJobs(redis, queue)) === 1, 'B to add the job to the rollups');
    a.proc.kill('SIGCONT');
    await a.waitForLog(
      (l) => l.msg === 'lock lost before finishing: another worker owns the job; dropping this result',
    );
    // A's late finish stops at the lost lock: no `finished` event (so none of its listeners ran:
    // rollups, tenant counters), and the rollups still count the job once.
    await new Promise((r) => setTimeout(r, 500));
    expect(finishedIn(a)).toBe(0);
    expect(finishedIn(b)).toBe(1);
    expect(await rolledUpJobs(redis, queue)).toBe(1);

    const after = (await q.get(id))!;
    expect(served.map((s) => s.outcome)).toEqual(['completed', 'completed']);
    // The record is B's (the second call's) and A's late result changed nothing.
    expect(after.record.request_id).toBe(served[1]!.requestId);
    expect(after.record).toEqual(before.record);
    expect(after.record.attempts).toBe(2);
    const ev = await finishEvents(redis, queue);
    expect(ev.completed.get(id)).toBe(1);
    const aText = await (await fetch(`${a.url}/metrics`)).text();
    expect(metricSum(aText, 'promptq_jobs_total', { status: 'completed' })).toBe(0);
  });

  it('a long call (longer than the lock) is not taken for stalled', async () => {
    const served: ServedResponse[] = [];
    const { queue, env } = await setup(served);
    // 5 s: two and a half lock lifetimes; the lock is renewed while the worker lives.
    sim.script([{ ok: true, delayMs: 5000 }]);
    procs.push(await startWorker({ ...env, ...fastLocks }));
    procs.push(await startWorker({ ...env, ...fastLocks }));
    const { id } = await q.add({ model: 'claude-haiku-4-5', max_tokens: 50, prompt: 'take your time' });
    const view = await q.wait(id, 30_000);
    expect(view?.state).toBe('completed');
    expect(view?.record.attempts).toBe(1);
    expect(view?.record.latency_ms).toBeGreaterThanOrEqual(5000);
    expect(served).toHaveLength(1);
    expect((await finishEvents(redis, queue)).stalled).toBe(0);
  });
});
