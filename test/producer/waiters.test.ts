/**
 * Long polls driven by BullMQ's events (producer/waiters.ts): an idle waiter costs Redis one read of
 * its job per safety re-check (control: the same waiters re-reading on a backoff), a waiter wakes on completion and on failure
 * long before its safety re-check, the cap on concurrent waits from both sides, and waiters are
 * answered at once on shutdown.
 */
import { setMaxListeners } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { readJobView } from '../../src/producer/job-view.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { JobWaiters, TooManyWaitersError } from '../../src/producer/waiters.js';
import { TestRedis } from '../helpers/redis-server.js';
import { get, post, type Stack, startStack, uniqueQueue } from '../helpers/stack.js';
import { testKeys, testRedisMode } from '../helpers/topology.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

// A Redis of its own (INFO's command count must see this test's traffic only), whatever the run's
// topology: on the Cluster and Sentinel runs it would only repeat the single-server run.
describe.skipIf(testRedisMode() !== 'single')('waiting for jobs: idle cost', () => {
  const redis = new TestRedis();
  let probe: Redis;
  const queues: PromptQueue[] = [];
  beforeAll(async () => {
    await redis.start();
    probe = new Redis(redis.url);
  });
  afterAll(async () => {
    for (const q of queues) await q.close();
    probe?.disconnect();
    await redis.destroy();
  });

  const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await probe.info('stats'))?.[1]);

  /**
   * Redis commands while `n` waiters wait on jobs that never run, over one full safety re-check
   * period (`recheckMs`). Each waiter re-reads its job 0.75–1 period after its previous read, so a
   * window of one period that starts once every first read is done (and at most half a period
   * after the waits began) holds exactly one re-read per waiter: nothing is averaged away.
   */
  async function idleCommands(events: boolean, n: number, recheckMs: number) {
    const q = new PromptQueue({
      redis: { url: redis.url },
      queue: uniqueQueue(),
      waiters: { events, recheckMs },
    });
    queues.push(q);
    const ids: string[] = [];
    for (let i = 0; i < n; i++)
      ids.push((await q.add({ model: 'claude-haiku-4-5', max_tokens: 10, prompt: `p${i}` })).id);
    const abort = new AbortController();
    // One signal for every waiter of this test (each adds a listener).
    setMaxListeners(0, abort.signal);
    const waits = ids.map((id) => q.wait(id, 60_000, abort.signal));
    await until(() => q.waiting === n, `${n} waiters`);
    // Past the first reads (and the polling backoff's fast start); at most half a period.
    const settleMs = Math.min(1500, recheckMs / 2);
    await sleep(settleMs);
    const before = await commands();
    const t0 = Date.now();
    await sleep(recheckMs);
    const after = await commands();
    const elapsedMs = Date.now() - t0;
    abort.abort();
    const views = await Promise.all(waits);
    expect(views.every((v) => v?.state === 'waiting')).toBe(true);
    expect(q.waiting).toBe(0);
    // The INFO that read `after` is counted in it.
    const count = after - before - 1;
    return { count, perSecond: (count * 1000) / elapsedMs };
  }

  it('200 idle waiters cost one read of each job per safety re-check, nothing else (about 53 commands/s at the default 30 s); re-reading on a backoff (the control) costs thousands a second', async () => {
    const n = 200;
    // A re-check period of 4 s instead of 30 s: the same cost per period, measured in a test's time.
    const recheckMs = 4000;
    // The cost of one re-check read of one job (state, job, record; a waiting job's place in line
    // is read only for the answer), the unit of the idle cost.
    const q = new PromptQueue({ redis: { url: redis.url }, queue: uniqueQueue() });
    queues.push(q);
    const { id } = await q.add({ model: 'claude-haiku-4-5', max_tokens: 10, prompt: 'one' });
    const b = await commands();
    await readJobView(q.queue, q.connection, q.keys, id, false);
    const perRead = (await commands()) - b - 1;

    const withEvents = await idleCommands(true, n, recheckMs);
    const polling = await idleCommands(false, n, recheckMs);
    // At the default period: one read per waiter every 0.875 × 30 s on average (re-checks are
    // spread over 0.75–1 period).
    const atDefault = withEvents.count / ((0.875 * defaults.waiters.recheckMs) / 1000);
    console.log(
      `idle waiters: ${n}; one read = ${perRead} commands; in one ${recheckMs} ms re-check period: ` +
        `events ${withEvents.count} commands (${(withEvents.count / n).toFixed(2)} per waiter), ` +
        `polling ${polling.count}; commands/s: events ${withEvents.perSecond.toFixed(1)}, ` +
        `polling ${polling.perSecond.toFixed(0)}; events at the default ${defaults.waiters.recheckMs} ms re-check: ` +
        `${atDefault.toFixed(1)}/s`,
    );
    // Exactly one read per waiter in the period, and at most the subscription's blocking read
    // (10 s) besides: nothing else per waiter.
    expect(withEvents.count).toBeGreaterThanOrEqual(n * perRead);
    expect(withEvents.count).toBeLessThanOrEqual(n * perRead + 2);
    // The README's figure: 200 waiters × one 7-command read per 26.25 s on average.
    expect(atDefault).toBeLessThan(60);
    // Each poller re-reads every 500 ms (8 reads a period here; fewer on a loaded machine, whose
    // reads take longer): far more than one read per 30 s.
    expect(polling.count).toBeGreaterThan(3 * withEvents.count);
    expect(polling.perSecond).toBeGreaterThan(10 * atDefault);
  }, 60_000);

  it('the cap on concurrent waits: the cap accepted, one more refused at once', async () => {
    const q = new PromptQueue({
      redis: { url: redis.url },
      queue: uniqueQueue(),
      waiters: { maxWaiters: 3 },
    });
    queues.push(q);
    const { id } = await q.add({ model: 'claude-haiku-4-5', max_tokens: 10, prompt: 'p' });
    const abort = new AbortController();
    const waits = [1, 2, 3].map(() => q.wait(id, 30_000, abort.signal));
    await until(() => q.waiting === 3, '3 waiters');
    await expect(q.wait(id, 30_000)).rejects.toBeInstanceOf(TooManyWaitersError);
    // A wait of 0 does not wait, so it is not counted.
    expect((await q.wait(id, 0))?.state).toBe('waiting');
    abort.abort();
    await Promise.all(waits);
    // Room again.
    expect((await q.wait(id, 50))?.state).toBe('waiting');
  });
});

describe('waiting for jobs over HTTP', () => {
  let s: Stack | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('a waiter wakes on completion and on failure, long before its 30 s safety re-check', async () => {
    s = await startStack({ sim: { ttftMs: 800 } });
    const job = await post(`${s.url}/v1/jobs`, { model: 'claude-haiku-4-5', max_tokens: 20, prompt: 'hi' });
    let t0 = Date.now();
    const done = await get(`${s.url}/v1/jobs/${job.body.id}?wait=20`);
    expect(done.body.state).toBe('completed');
    expect(Date.now() - t0).toBeLessThan(5000);

    s.sim.script([{ status: 400, message: 'bad request' }]);
    const bad = await post(`${s.url}/v1/jobs`, { model: 'claude-haiku-4-5', max_tokens: 20, prompt: 'no' });
    t0 = Date.now();
    const failed = await get(`${s.url}/v1/jobs/${bad.body.id}?wait=20`);
    expect(failed.body.state).toBe('failed');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('an event that never comes (missed in a failover): the safety re-check still answers; without it only the deadline does', async () => {
    s = await startStack({ sim: { ttftMs: 600 } });
    const queue = s.svc.queue;
    // Subscribed to another queue's event stream: this job's events never reach these waiters.
    const decoy = testKeys(uniqueQueue());
    const quick = new JobWaiters(s.redis, decoy, (id) => queue.get(id), {
      ...defaults.waiters,
      recheckMs: 300,
    });
    const slow = new JobWaiters(s.redis, decoy, (id) => queue.get(id), {
      ...defaults.waiters,
      recheckMs: 60_000,
    });
    try {
      const job = await post(`${s.url}/v1/jobs`, { model: 'claude-haiku-4-5', max_tokens: 20, prompt: 'hi' });
      const id = job.body.id as string;
      const timed = async (w: JobWaiters) => {
        const t0 = Date.now();
        const view = await w.wait(id, 4000);
        return { state: view?.state, ms: Date.now() - t0 };
      };
      const [q, sl] = await Promise.all([timed(quick), timed(slow)]);
      expect(q.state).toBe('completed');
      expect(q.ms).toBeLessThan(2500);
      // The control: nothing but its deadline woke the other one.
      expect(sl.state).toBe('completed');
      expect(sl.ms).toBeGreaterThanOrEqual(3900);
    } finally {
      await quick.close();
      await slow.close();
    }
  });

  it('PROMPTQ_MAX_WAITERS: that many waits accepted, one more is a 429 with Retry-After; shutdown answers the waiters at once', async () => {
    // The API alone: the job waits for ever.
    s = await startStack({ env: { PROMPTQ_MAX_WAITERS: '2' }, parts: { worker: false } });
    const job = await post(`${s.url}/v1/jobs`, { model: 'claude-haiku-4-5', max_tokens: 20, prompt: 'hi' });
    const url = `${s.url}/v1/jobs/${job.body.id}?wait=60`;
    const waits = [get(url), get(url)];
    const queue = s.svc.queue;
    await until(() => queue.waiting === 2, '2 waiters');
    const refused = await get(url);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body.error.type).toBe('too_many_requests');
    expect(refused.body.error.message).toMatch(/PROMPTQ_MAX_WAITERS/);
    // Without `wait` the job is read as ever.
    expect((await get(`${s.url}/v1/jobs/${job.body.id}`)).status).toBe(200);

    const t0 = Date.now();
    const closing = s.close();
    const answers = await Promise.all(waits);
    expect(Date.now() - t0).toBeLessThan(3000);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body.state).toBe('waiting');
    }
    await closing;
    s = undefined;
  });
});
