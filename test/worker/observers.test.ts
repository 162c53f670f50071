/**
 * Observers do not hold a job's lock: a slow listener of the job's events does not delay its
 * completion, unless it subscribed as blocking (the control). A failing listener is logged once per
 * repeat and counted in /metrics.
 */
import { DelayedError } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { defaultJobLimits } from '../../src/core/job-schema.js';
import { Logger } from '../../src/core/log.js';
import { PromptqEvents } from '../../src/events/emitter.js';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import { JobProcessor } from '../../src/worker/core.js';
import { SpendLimitPauser } from '../../src/worker/subscribers/spend-limit-pauser.js';
import { get, post, type Stack, startStack, uniqueQueue } from '../helpers/stack.js';
import { bullQueue, testKeys, testRedis } from '../helpers/topology.js';
import { fakeClient, fakeJob, fakeLimiter, memoryRecords } from './fakes.js';

const body = { model: 'claude-haiku-4-5', max_tokens: 50, prompt: 'hi', tenant_id: 'acme' };

/** A promise and the function that resolves it. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Whether `p` settles within a few turns of the event loop. */
async function settles(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  return done;
}

describe('the worker core hands a job back without waiting for observers', () => {
  function processor(events: PromptqEvents) {
    return new JobProcessor({
      ...defaults.worker,
      provider: fakeClient([{ ok: true }]).provider,
      limiter: fakeLimiter().limiter,
      records: memoryRecords().port,
      prices: new PriceTable(),
      events,
      maxAttempts: 3,
      maxRateLimited: 2,
      requestTimeoutMs: 5000,
      jobLimits: defaultJobLimits,
    });
  }

  it('a slow observer of every event: the job completes while it is still busy (control: blocking, it waits)', async () => {
    const slow = gate();
    const events = new PromptqEvents();
    const seen: string[] = [];
    for (const event of ['started', 'attempt', 'completed', 'finished'] as const) {
      events.on(event, async () => {
        await slow.opened;
        seen.push(event);
      });
    }
    const result = await processor(events).process(fakeJob(body), 'tok');
    expect(result.record.status_code).toBe(200);
    expect(seen).toEqual([]);
    slow.open();
    await events.idle();
    expect(seen).toEqual(['started', 'attempt', 'completed', 'finished']);

    // The control: the same observer, blocking, keeps the job from completing until it is done.
    const held = gate();
    const blocking = new PromptqEvents().on('finished', () => held.opened, { blocking: true });
    const processing = processor(blocking).process(fakeJob(body), 'tok');
    expect(await settles(processing)).toBe(false);
    held.open();
    expect(await settles(processing)).toBe(true);
    expect((await processing).record.status_code).toBe(200);
  });
});

describe('observers of a running worker (Redis, the simulator)', () => {
  let s: Stack;
  afterEach(() => s?.close());

  async function enqueue(): Promise<string> {
    const r = await post(`${s.url}/v1/jobs`, body);
    expect(r.status).toBe(202);
    return r.body.id as string;
  }

  it('a job is completed in the queue while its finished observer is still busy; a blocking one holds it active', async () => {
    s = await startStack();
    const worker = s.svc.worker!;
    const slow = gate();
    const reached = gate();
    const slowObserver = async () => {
      reached.open();
      await slow.opened;
    };
    worker.on('finished', slowObserver);
    const id = await enqueue();
    await reached.opened;
    const view = await get(`${s.url}/v1/jobs/${id}?wait=10`);
    expect(view.body.state).toBe('completed');
    slow.open();
    worker.off('finished', slowObserver);

    // The control: a blocking observer holds the job (and its lock) until it is done.
    const held = gate();
    const called = gate();
    worker.on(
      'finished',
      async () => {
        called.open();
        await held.opened;
      },
      { blocking: true },
    );
    const second = await enqueue();
    await called.opened;
    expect((await get(`${s.url}/v1/jobs/${second}`)).body.state).toBe('active');
    held.open();
    expect((await get(`${s.url}/v1/jobs/${second}?wait=10`)).body.state).toBe('completed');
  });

  it('a throwing observer is logged once per repeat and counted; the jobs complete (control: none counted before)', async () => {
    s = await startStack();
    const metric = async () => {
      const text = (await get(`${s.url}/metrics`)).body.text as string;
      return /promptq_event_listener_errors_total\{event="finished"\} (\d+)/.exec(text)?.[1];
    };
    const first = await enqueue();
    expect((await get(`${s.url}/v1/jobs/${first}?wait=10`)).body.state).toBe('completed');
    expect(await metric()).toBeUndefined();

    s.svc.worker!.on('finished', () => {
      throw new Error('observer broke');
    });
    const ids = [await enqueue(), await enqueue()];
    for (const id of ids) expect((await get(`${s.url}/v1/jobs/${id}?wait=10`)).body.state).toBe('completed');
    await s.svc.close();
    const failures = s.logs.filter((l) => l.msg === 'event listener failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ level: 'warn', event: 'finished', error: 'observer broke' });
    expect(failures[0]!.job_id).toBe(ids[0]);
    // The second failure went into the summary written at close.
    const summary = s.logs.filter((l) => l.msg === 'event listener failed (repeated)');
    expect(summary.map((l) => l.repeated)).toEqual([1]);
    const counted = await s.svc.metrics.registry.getSingleMetricAsString(
      'promptq_event_listener_errors_total',
    );
    expect(counted).toMatch(/promptq_event_listener_errors_total\{event="finished"\} 2/);
  });
});

describe('the spend-limit pause is the blocking observer', () => {
  it('the queue is paused by the time the job is handed back (real Redis, fake API)', async () => {
    const connection = testRedis();
    const queue = uniqueQueue();
    const prefix = testKeys(queue).prefix;
    const events = new PromptqEvents();
    const pauser = new SpendLimitPauser({ connection, queue, prefix, log: new Logger('silent') }).subscribe(
      events,
    );
    const bull = bullQueue(queue, connection);
    try {
      const p = new JobProcessor({
        ...defaults.worker,
        provider: fakeClient([
          { status: 429, type: 'rate_limit_error', errorCode: 'enforced_spend_limit_reached' },
        ]).provider,
        limiter: fakeLimiter().limiter,
        records: memoryRecords().port,
        prices: new PriceTable(),
        events,
        maxAttempts: 3,
        maxRateLimited: 2,
        requestTimeoutMs: 5000,
        jobLimits: defaultJobLimits,
      });
      const job = fakeJob(body);
      let pausedWhenHandedBack: boolean | undefined;
      job.moveToDelayed.mockImplementation(async () => {
        pausedWhenHandedBack = await bull.isPaused();
      });
      await expect(p.process(job, 'tok')).rejects.toBeInstanceOf(DelayedError);
      expect(pausedWhenHandedBack).toBe(true);
    } finally {
      await pauser.close();
      await bull.obliterate({ force: true });
      await bull.close();
      connection.disconnect();
    }
  });
});
