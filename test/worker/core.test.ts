import { DelayedError, UnrecoverableError } from 'bullmq';
import { beforeEach, describe, expect, it } from 'vitest';
import { defaults } from '../../src/core/defaults.js';
import { defaultJobLimits } from '../../src/core/job-schema.js';
import { newRecord } from '../../src/core/record.js';
import { PromptqEvents } from '../../src/events/emitter.js';
import type { EventName } from '../../src/events/types.js';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import { LockLostError } from '../../src/store/record-store.js';
import { JobProcessor, shutdownReason } from '../../src/worker/core.js';
import { type Answer, fakeClient, fakeJob, fakeLimiter, memoryRecords } from './fakes.js';

const body = { model: 'claude-haiku-4-5', max_tokens: 100, prompt: 'hi', tenant_id: 'acme' };

describe('job processor (fake client and limiter, no Redis)', () => {
  let seen: Array<{ event: EventName; kind?: string }>;
  let records: ReturnType<typeof memoryRecords>;
  let lim: ReturnType<typeof fakeLimiter>;
  let events: PromptqEvents;

  beforeEach(() => {
    seen = [];
    records = memoryRecords();
    lim = fakeLimiter();
    events = new PromptqEvents();
    for (const event of [
      'started',
      'attempt',
      'completed',
      'failed',
      'finished',
      'spendLimit',
      'returned',
      'deferred',
      'lockLost',
    ] as const) {
      events.on(event, (e: { outcome?: { kind: string } }) =>
        seen.push({ event, ...(e.outcome ? { kind: e.outcome.kind } : {}) }),
      );
    }
  });

  function processor(script: Answer[], over: { maxAttempts?: number; maxRateLimited?: number } = {}) {
    const c = fakeClient(script);
    const p = new JobProcessor({
      ...defaults.worker,
      provider: c.provider,
      limiter: lim.limiter,
      records: records.port,
      prices: new PriceTable(),
      events,
      maxAttempts: over.maxAttempts ?? 3,
      maxRateLimited: over.maxRateLimited ?? 2,
      backoff: { ...defaults.worker.backoff, baseMs: 100, maxMs: 1000 },
      requestTimeoutMs: 5000,
      jobLimits: defaultJobLimits,
      random: () => 0,
    });
    return { p, calls: c.calls };
  }

  it("reads no record on a job's first pickup; a later pickup continues the saved one (control)", async () => {
    // A record left under the id: a job picked up for the first time cannot have one of its own.
    records.saved.set('job-1', {
      ...newRecord({ model: body.model, max_tokens: body.max_tokens, messages: [] }, Date.now()),
      attempts: 2,
    });
    const first = await processor([{ ok: true, input: 1, output: 1 }]).p.process(
      fakeJob(body, { attemptsStarted: 1 }),
      'tok',
    );
    expect(first.record.attempts).toBe(1);
    // The control: picked up again (a retry, a deferral, a stalled job), the saved count goes on.
    records.saved.set('job-1', { ...first.record, attempts: 2, finished_at: null });
    const again = await processor([{ ok: true, input: 1, output: 1 }]).p.process(
      fakeJob(body, { attemptsStarted: 3 }),
      'tok',
    );
    expect(again.record.attempts).toBe(3);
  });

  it('completes: returns the message and the record, saved last, with events in order', async () => {
    const { p, calls } = processor([{ ok: true, input: 20, output: 9, text: 'salut' }]);
    const job = fakeJob(body, { opts: { priority: 3 * 2048 + 17 } });
    const r = await p.process(job, 'tok');
    expect(r.message.content).toEqual([{ type: 'text', text: 'salut' }]);
    expect(r.record).toMatchObject({
      attempts: 1,
      input_tokens: 20,
      output_tokens: 9,
      status_code: 200,
      error_type: null,
      request_id: 'req_1',
      tenant_id: 'acme',
      retries: {},
    });
    expect(r.record.cost_usd).toBeCloseTo((20 * 1 + 9 * 5) / 1e6, 12);
    expect(r.record.total_ms).toBeGreaterThanOrEqual(100);
    expect(records.saved.get('job-1')).toEqual(r.record);
    expect(records.finals).toEqual(['job-1']);
    expect(seen).toEqual([
      { event: 'started' },
      { event: 'attempt', kind: 'completed' },
      { event: 'completed' },
      { event: 'finished' },
    ]);
    // The limiter gets the user's priority (without the tenant rank) and the real usage.
    expect(lim.plans[0]).toMatchObject({ model: body.model, maxTokens: 100, tenant: 'acme', priority: 3 });
    expect(lim.settled).toEqual([
      expect.objectContaining({ outcome: 'success', inputTokens: 20, outputTokens: 9 }),
    ]);
    expect(calls[0]).toMatchObject({ stream: true, metadata: { user_id: 'acme' } });
    expect(calls[0]).not.toHaveProperty('tenant_id');
    expect(job.moveToDelayed).not.toHaveBeenCalled();
  });

  it('a retryable error delays the job by the backoff; the next processing completes it', async () => {
    const { p } = processor([{ status: 529, type: 'overloaded_error' }]);
    const job = fakeJob(body);
    const t0 = Date.now();
    await expect(p.process(job, 'tok')).rejects.toBeInstanceOf(DelayedError);
    // overloaded: base × 2, half fixed (random() = 0).
    const until = job.moveToDelayed.mock.calls[0]?.[0] ?? 0;
    expect(until - t0).toBeGreaterThanOrEqual(100);
    expect(until - Date.now()).toBeLessThanOrEqual(100);
    expect(records.saved.get('job-1')).toMatchObject({
      attempts: 1,
      retries: { overloaded: 1 },
      status_code: 529,
    });
    expect(seen).toEqual([{ event: 'started' }, { event: 'attempt', kind: 'retry' }]);

    seen.length = 0;
    const r = await p.process(job, 'tok');
    expect(r.record).toMatchObject({
      attempts: 2,
      retries: { overloaded: 1 },
      status_code: 200,
      error_type: null,
    });
    // Started once per job, not per processing.
    expect(seen.map((s) => s.event)).toEqual(['attempt', 'completed', 'finished']);
  });

  it('a 429 within the bound waits for a new permit in the same processing and spends no attempt', async () => {
    const { p } = processor([{ status: 429, type: 'rate_limit_error', retryAfter: 0 }], { maxAttempts: 1 });
    const r = await p.process(fakeJob(body), 'tok');
    expect(r.record).toMatchObject({ attempts: 2, rate_limited: 1, retries: { rate_limited: 1 } });
    expect(lim.plans).toHaveLength(2);
    expect(lim.settled.map((s) => s.outcome)).toEqual(['rate_limited', 'success']);
    expect(seen.filter((s) => s.event === 'attempt').map((s) => s.kind)).toEqual([
      'rate_limited',
      'completed',
    ]);
  });

  it('retrying follows the attempt that will be tried again: its reason, and its delay (none: after the group pause)', async () => {
    const retrying: Array<{ kind: string; reason: string; delayMs: number | null }> = [];
    events.on('retrying', (e) => {
      retrying.push({ kind: e.outcome.kind, reason: e.reason, delayMs: e.delayMs });
    });
    const { p } = processor([
      { status: 429, type: 'rate_limit_error', retryAfter: 0 },
      { status: 529, type: 'overloaded_error' },
    ]);
    const job = fakeJob(body);
    await expect(p.process(job, 'tok')).rejects.toBeInstanceOf(DelayedError);
    expect(retrying).toEqual([
      { kind: 'rate_limited', reason: 'rate_limited', delayMs: null },
      // The job's second retry, overloaded: base × 2 × 2, half fixed (random() = 0).
      { kind: 'retry', reason: 'overloaded', delayMs: 200 },
    ]);
    // The job that completes next is not retrying.
    await p.process(job, 'tok');
    expect(retrying).toHaveLength(2);
  });

  it('429s past the bound fail the job, naming the bound', async () => {
    const limited: Answer = { status: 429, type: 'rate_limit_error', retryAfter: 0 };
    const { p } = processor([limited, limited, limited]);
    const err = await p.process(fakeJob(body), 'tok').catch((e: Error) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toMatch(/^rate limited 3 times \(the bound is 2\): /);
    expect(records.saved.get('job-1')).toMatchObject({
      attempts: 3,
      rate_limited: 3,
      retries: { rate_limited: 2 },
    });
    expect(seen.slice(-3)).toEqual([
      { event: 'attempt', kind: 'failed' },
      { event: 'failed', kind: 'failed' },
      { event: 'finished' },
    ]);
  });

  it('a client error fails at once with the API message', async () => {
    const { p } = processor([{ status: 400, type: 'invalid_request_error', message: 'no' }]);
    const err = await p.process(fakeJob(body), 'tok').catch((e: Error) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toBe('invalid_request_error (400): no');
    expect(records.saved.get('job-1')).toMatchObject({ attempts: 1, status_code: 400, retries: {} });
    expect(records.finals).toEqual(['job-1']);
  });

  it('gives up after maxAttempts retryable errors', async () => {
    const { p } = processor([{ network: true }, { network: true }], { maxAttempts: 2 });
    const job = fakeJob(body);
    await expect(p.process(job, 'tok')).rejects.toBeInstanceOf(DelayedError);
    const err = await p.process(job, 'tok').catch((e: Error) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toMatch(/^gave up after 2 attempts: network_error: /);
    expect(records.saved.get('job-1')).toMatchObject({ attempts: 2, retries: { network_error: 1 } });
  });

  it('a spend limit puts the job back after the spend-limit event, unfinished', async () => {
    const { p } = processor([
      { status: 429, type: 'rate_limit_error', errorCode: 'enforced_spend_limit_reached', message: 'spent' },
    ]);
    let paused = false;
    // Blocking, as the spend-limit pauser's: the queue is paused before the job is put back.
    events.on(
      'spendLimit',
      async (e) => {
        await new Promise((r) => setTimeout(r, 10));
        expect(e).toMatchObject({
          jobId: 'job-1',
          errorCode: 'enforced_spend_limit_reached',
          message: 'spent',
        });
        paused = true;
      },
      { blocking: true },
    );
    const job = fakeJob(body);
    job.moveToDelayed.mockImplementation(async () => {
      expect(paused).toBe(true);
    });
    const t0 = Date.now();
    await expect(p.process(job, 'tok')).rejects.toBeInstanceOf(DelayedError);
    expect(job.moveToDelayed.mock.calls[0]?.[0]).toBeGreaterThanOrEqual(t0 + 1000);
    expect(records.saved.get('job-1')).toMatchObject({ attempts: 1, rate_limited: 1, status_code: 429 });
    expect(records.finals).toEqual([]);
    expect(seen.map((s) => s.event)).toEqual(['started', 'attempt', 'spendLimit']);
  });

  it('invalid data fails for good before any attempt', async () => {
    const { p, calls } = processor([]);
    const err = await p
      .process(fakeJob({ model: 'claude-haiku-4-5', max_tokens: 'many', prompt: 'x' }), 'tok')
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toMatch(/^invalid job: max_tokens: /);
    expect(records.saved.get('job-1')).toMatchObject({
      error_type: 'invalid_job',
      attempts: 0,
      model: body.model,
    });
    expect(calls).toHaveLength(0);
    expect(seen).toEqual([{ event: 'failed', kind: 'invalid' }, { event: 'finished' }]);
  });

  it('shutdown mid-call returns the job to the queue without spending the attempt', async () => {
    const { p } = processor([{ hang: true }]);
    const ac = new AbortController();
    const job = fakeJob(body);
    const running = p.process(job, 'tok', ac.signal);
    await new Promise((r) => setTimeout(r, 20));
    ac.abort(shutdownReason);
    await expect(running).rejects.toBeInstanceOf(DelayedError);
    expect(job.moveToDelayed).toHaveBeenCalledTimes(1);
    expect(records.saved.get('job-1')?.attempts).toBe(0);
    expect(lim.settled).toEqual([expect.objectContaining({ outcome: 'network_error' })]);
    expect(seen.map((s) => s.event)).toEqual(['started', 'returned']);
  });

  it('no permit soon: the job is delayed until the permit time, not started and without an attempt', async () => {
    const untilMs = Date.now() + 5_000;
    lim = fakeLimiter([{ deferred: true, untilMs, reason: 'paused' }]);
    const { p, calls } = processor([{ ok: true, input: 20, output: 9, text: 'salut' }]);
    const job = fakeJob(body);
    await expect(p.process(job, 'tok')).rejects.toBeInstanceOf(DelayedError);
    expect(job.moveToDelayed).toHaveBeenCalledWith(untilMs, 'tok');
    expect(calls).toHaveLength(0);
    // Not started (it is back in the queue), nothing written.
    expect(records.saved.get('job-1')).toBeUndefined();
    expect(seen.map((s) => s.event)).toEqual(['deferred']);
    // Back from the delayed set: started at its permit, one attempt.
    const r = await p.process(job, 'tok');
    expect(r.record.attempts).toBe(1);
    expect(r.record.started_at).not.toBeNull();
    expect(seen.map((s) => s.event)).toEqual(['deferred', 'started', 'attempt', 'completed', 'finished']);
  });

  it('bounds the calls of a job at maxAttempts + maxRateLimited, and reaches that bound (the control)', async () => {
    const failing: Answer = { status: 500, type: 'api_error', retryAfter: 0 };
    const limited: Answer = { status: 429, type: 'rate_limit_error', retryAfter: 0 };
    // More errors than the bound allows: the job must stop at 3 attempts + 2 429s = 5 calls.
    const { p, calls } = processor([failing, limited, failing, limited, failing, failing, failing, failing], {
      maxAttempts: 3,
      maxRateLimited: 2,
    });
    const job = fakeJob(body);
    let err: unknown;
    for (let pickup = 0; pickup < 10; pickup++) {
      try {
        await p.process(job, 'tok');
        break;
      } catch (e) {
        err = e;
        if (!(e instanceof DelayedError)) break; // BullMQ picks a delayed job up again
      }
    }
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toMatch(/^gave up after 5 attempts/);
    expect(calls).toHaveLength(5);
    expect(records.saved.get('job-1')).toMatchObject({ attempts: 5, rate_limited: 2 });
  });

  it('a lost lock drops the result: nothing counted, logged as lost, the error goes to BullMQ', async () => {
    const { p } = processor([]);
    records.lockLost = new LockLostError('job-1');
    await expect(p.process(fakeJob(body), 'tok')).rejects.toBeInstanceOf(LockLostError);
    expect(seen).toEqual([{ event: 'started' }, { event: 'lockLost' }]);
  });

  it('a listener that throws does not change the outcome', async () => {
    const failures: string[] = [];
    events = new PromptqEvents().onListenerError((event, err) => failures.push(`${event}: ${err.message}`));
    events.on('finished', () => {
      throw new Error('boom');
    });
    const { p } = processor([]);
    const r = await p.process(fakeJob(body), 'tok');
    expect(r.record.status_code).toBe(200);
    expect(failures).toEqual(['finished: boom']);
  });

  describe('fallback_models (opt-in)', () => {
    const withFallback = {
      ...body,
      model: 'claude-opus-4-5',
      fallback_models: ['claude-sonnet-4-5', 'claude-haiku-4-5'],
    };
    const until = async (p: JobProcessor, job: ReturnType<typeof fakeJob>) => {
      for (let i = 0; i < 10; i++) {
        try {
          return await p.process(job, 't');
        } catch (err) {
          if (!(err instanceof DelayedError)) throw err;
        }
      }
      throw new Error('did not finish');
    };

    it('after 2 overloaded answers in a row the next model serves the job; the record says which and why', async () => {
      const { p, calls } = processor(
        [
          { status: 529, type: 'overloaded_error' },
          { status: 529, type: 'overloaded_error' },
          { ok: true, input: 10, output: 2 },
        ],
        { maxAttempts: 5 },
      );
      const r = await until(p, fakeJob(withFallback));
      expect(calls.map((c) => c.model)).toEqual(['claude-opus-4-5', 'claude-opus-4-5', 'claude-sonnet-4-5']);
      expect(r.record).toMatchObject({
        model: 'claude-opus-4-5',
        served_model: 'claude-sonnet-4-5',
        fallback_reason: 'overloaded',
      });
      expect(r.message.model).toBe('claude-sonnet-4-5');
      // Priced at the model that served it: $3/$15.
      expect(r.record.cost_usd).toBeCloseTo((10 * 3 + 2 * 15) / 1e6, 12);
      expect(calls.every((c) => !('fallback_models' in c) && !('betas' in c))).toBe(true);
    });

    it('one overloaded answer is not enough; a non-overloaded error resets the count', async () => {
      const { p, calls } = processor(
        [
          { status: 529, type: 'overloaded_error' },
          { status: 500, type: 'api_error' },
          { status: 529, type: 'overloaded_error' },
          { ok: true },
        ],
        { maxAttempts: 5 },
      );
      const r = await until(p, fakeJob(withFallback));
      expect(calls.map((c) => c.model)).toEqual(Array(4).fill('claude-opus-4-5'));
      expect(r.record).toMatchObject({ served_model: 'claude-opus-4-5', fallback_reason: null });
    });

    it('a retired model (404 not_found_error) moves on at once; without fallback_models it fails the job', async () => {
      const { p, calls } = processor([
        { status: 404, type: 'not_found_error', message: 'model: claude-opus-4-5' },
        { ok: true },
      ]);
      const r = await until(p, fakeJob(withFallback));
      expect(calls.map((c) => c.model)).toEqual(['claude-opus-4-5', 'claude-sonnet-4-5']);
      expect(r.record).toMatchObject({
        served_model: 'claude-sonnet-4-5',
        fallback_reason: 'not_found',
        attempts: 2,
      });

      const plain = processor([{ status: 404, type: 'not_found_error', message: 'model: x' }]);
      await expect(plain.p.process(fakeJob(body, { id: 'job-2' }), 't')).rejects.toBeInstanceOf(
        UnrecoverableError,
      );
    });

    it('sends the job betas as the anthropic-beta header', async () => {
      const c = fakeClient([{ ok: true }]);
      const p = new JobProcessor({
        ...defaults.worker,
        provider: c.provider,
        limiter: lim.limiter,
        records: records.port,
        prices: new PriceTable(),
        events,
        maxAttempts: 3,
        maxRateLimited: 2,
        requestTimeoutMs: 5000,
        jobLimits: defaultJobLimits,
      });
      await p.process(fakeJob({ ...body, betas: ['context-1m-2025-08-07', 'files-api-2025-04-14'] }), 't');
      expect(c.headers[0]?.['anthropic-beta']).toBe('context-1m-2025-08-07,files-api-2025-04-14');
      expect(c.calls[0]).not.toHaveProperty('betas');
    });
  });
});
