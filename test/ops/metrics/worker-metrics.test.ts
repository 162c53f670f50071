import { DelayedError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/core/config.js';
import { defaults } from '../../../src/core/defaults.js';
import { defaultJobLimits } from '../../../src/core/job-schema.js';
import { Logger } from '../../../src/core/log.js';
import { PromptqEvents } from '../../../src/events/emitter.js';
import type { Deferral } from '../../../src/limiter/types.js';
import { Metrics } from '../../../src/ops/metrics/metrics.js';
import { subscribeWorkerMetrics } from '../../../src/ops/metrics/worker-metrics.js';
import { PriceTable } from '../../../src/providers/anthropic/pricing.js';
import { JobProcessor } from '../../../src/worker/core.js';
import { subscribeAttemptLog } from '../../../src/worker/subscribers/attempt-log.js';
import { type Answer, fakeClient, fakeJob, fakeLimiter, memoryRecords } from '../../worker/fakes.js';

/** A job processor (worker/core.ts) with the metrics and attempt-log subscribers, on fakes (no API, no Redis). */
function rig(
  script: Answer[],
  prices = new PriceTable(),
  deferrals: Deferral[] = [],
  maxModelLabels = defaults.labels.maxModels,
) {
  const metrics = new Metrics({ defaultMetrics: false });
  const lines: Array<Record<string, unknown>> = [];
  const events = new PromptqEvents();
  subscribeAttemptLog(events, {
    log: new Logger('debug', (l) => lines.push(JSON.parse(l))),
    logPrompts: false,
    maxModelLabels,
  });
  subscribeWorkerMetrics(events, metrics);
  const p = new JobProcessor({
    ...defaults.worker,
    provider: fakeClient(script, {}, prices).provider,
    limiter: fakeLimiter(deferrals).limiter,
    records: memoryRecords().port,
    prices,
    events,
    maxAttempts: 3,
    maxRateLimited: 1,
    backoff: { ...defaults.worker.backoff, baseMs: 10, maxMs: 100 },
    requestTimeoutMs: 5000,
    jobLimits: defaultJobLimits,
  });
  return { p, metrics, lines };
}

const body = { model: 'claude-haiku-4-5', max_tokens: 100, prompt: 'hi', tenant_id: 'acme' };

describe('worker metrics and attempt log, from the worker events', () => {
  it('a retried then completed job: requests by outcome, retries, tokens, cost, jobs; one line per attempt', async () => {
    const { p, metrics, lines } = rig([
      { status: 529, type: 'overloaded_error' },
      { ok: true, input: 30, output: 4 },
    ]);
    const job = fakeJob(body);
    await expect(p.process(job, 't')).rejects.toBeInstanceOf(DelayedError);
    const r = await p.process(job, 't');
    const text = await metrics.text();
    expect(text).toContain(
      'promptq_requests_total{model="claude-haiku-4-5",status_code="529",outcome="overloaded"} 1',
    );
    expect(text).toContain(
      'promptq_requests_total{model="claude-haiku-4-5",status_code="200",outcome="success"} 1',
    );
    expect(text).toContain('promptq_retries_total{model="claude-haiku-4-5",reason="overloaded"} 1');
    expect(text).toContain('promptq_tokens_total{model="claude-haiku-4-5",tenant="acme",type="input"} 30');
    expect(text).toContain('promptq_tokens_total{model="claude-haiku-4-5",tenant="acme",type="output"} 4');
    // 30 input tokens at $1/M and 4 output tokens at $5/M.
    expect(r.record.cost_usd).toBe(0.00005);
    expect(text).toContain(
      'promptq_cost_usd_total{model="claude-haiku-4-5",tenant="acme",type="input",route="live"} 0.00003',
    );
    expect(text).toContain(
      'promptq_cost_usd_total{model="claude-haiku-4-5",tenant="acme",type="output",route="live"} 0.00002',
    );
    expect(text).toContain('promptq_stop_reasons_total{model="claude-haiku-4-5",stop_reason="end_turn"} 1');
    expect(text).toContain('promptq_jobs_total{status="completed"} 1');
    expect(text).toContain(
      'promptq_request_duration_seconds_count{model="claude-haiku-4-5",outcome="success"} 1',
    );
    expect(text).toContain('promptq_queue_wait_seconds_count{model="claude-haiku-4-5"} 1');
    expect(text).toContain(
      'promptq_job_duration_seconds_count{model="claude-haiku-4-5",status="completed"} 1',
    );

    const attempts = lines.filter((l) => l.msg === 'api_attempt');
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({
      job_id: 'job-1',
      attempt: 1,
      outcome: 'overloaded',
      status_code: 529,
    });
    expect(attempts[0]).toHaveProperty('retry_in_ms');
    expect(attempts[1]).toMatchObject({
      attempt: 2,
      outcome: 'success',
      input_tokens: 30,
      output_tokens: 4,
      tenant_id: 'acme',
      max_tokens: 100,
      error_type: null,
    });
    expect(JSON.stringify(lines)).not.toContain('"hi"');
  });

  it('a failed job and a spend limit: failed jobs counted, the queue pause counted, no attempt line for the spend limit', async () => {
    const { p, metrics, lines } = rig([
      { status: 400, type: 'invalid_request_error' },
      { status: 429, type: 'rate_limit_error', errorCode: 'enforced_spend_limit_reached' },
    ]);
    await p.process(fakeJob(body, { id: 'a' }), 't').catch(() => {});
    await p.process(fakeJob(body, { id: 'b' }), 't').catch(() => {});
    const text = await metrics.text();
    expect(text).toContain('promptq_jobs_total{status="failed"} 1');
    expect(text).toContain(
      'promptq_requests_total{model="claude-haiku-4-5",status_code="400",outcome="client_error"} 1',
    );
    expect(text).toContain(
      'promptq_requests_total{model="claude-haiku-4-5",status_code="429",outcome="rate_limited"} 1',
    );
    expect(text).toContain('promptq_limiter_pauses_total{group="queue",reason="spend_limit"} 1');
    expect(text).not.toContain('promptq_retries_total{');
    const attempts = lines.filter((l) => l.msg === 'api_attempt');
    expect(attempts.map((l) => [l.job_id, l.final])).toEqual([['a', true]]);
  });

  it('an unpriced model: cost null (not 0), counted per call, and a warning once per model', async () => {
    const { p, lines, metrics } = rig([], new PriceTable({ models: {} }));
    const r = await p.process(fakeJob(body), 't');
    await p.process(fakeJob(body, { id: 'job-2' }), 't');
    expect(r.record.cost_usd).toBeNull();
    expect(r.record.cost).toBeNull();
    expect(lines.map((l) => l.msg)).toEqual([
      'no known price for model: its cost is recorded as unknown (null); set PROMPTQ_PRICING_FILE',
      'api_attempt',
      'job finished',
      'api_attempt',
      'job finished',
    ]);
    const text = await metrics.text();
    expect(text).toContain('promptq_unpriced_calls_total{model="claude-haiku-4-5"} 2');
    expect(text).not.toContain('promptq_cost_usd_total{');
  });

  it.each([
    ['the default', defaults.labels.maxModels],
    ['PROMPTQ_MAX_MODEL_LABELS=3', loadConfig({ PROMPTQ_MAX_MODEL_LABELS: '3' }).labels.maxModels],
  ])(
    'unpriced-model warnings name the first models only (%s): made-up names cannot grow the log or memory',
    async (_, max) => {
      const { p, lines } = rig([], new PriceTable({ models: {} }), [], max);
      const warned = () =>
        lines.filter((l) => String(l.msg).startsWith('no known price for model')).map((l) => l.model);
      const summary = () => lines.filter((l) => String(l.msg).startsWith('more than'));
      for (let i = 0; i < max; i++)
        await p.process(fakeJob({ ...body, model: `made-up-${i}` }, { id: `m${i}` }), 't');
      // The limit itself: every model named, no summary.
      expect(warned()).toHaveLength(max);
      expect(summary()).toHaveLength(0);
      // One past it: one summary line, then nothing more however many follow.
      for (let i = max; i < max + 5; i++) {
        await p.process(fakeJob({ ...body, model: `made-up-${i}` }, { id: `m${i}` }), 't');
      }
      expect(warned()).toHaveLength(max);
      expect(summary()).toHaveLength(1);
      expect(String(summary()[0]?.msg)).toContain(`more than ${max} models without a known price`);
    },
  );

  it('a deferred job is counted per group and reason, and spends no attempt', async () => {
    const later = Date.now() + 5000;
    const { p, metrics } = rig([{ ok: true }], new PriceTable(), [
      { deferred: true, untilMs: later, reason: 'paused' },
      { deferred: true, untilMs: later, reason: 'queued' },
    ]);
    const job = fakeJob(body);
    await expect(p.process(job, 't')).rejects.toBeInstanceOf(DelayedError);
    await expect(p.process(job, 't')).rejects.toBeInstanceOf(DelayedError);
    let text = await metrics.text();
    expect(text).toContain('promptq_limiter_deferrals_total{group="haiku",reason="paused"} 1');
    expect(text).toContain('promptq_limiter_deferrals_total{group="haiku",reason="queued"} 1');
    // Control: a permit, no deferral counted.
    const r = await p.process(job, 't');
    expect(r.record.attempts).toBe(1);
    text = await metrics.text();
    expect(text).toContain('promptq_limiter_deferrals_total{group="haiku",reason="paused"} 1');
    expect(text).not.toContain('reason="pacing"');
  });
});
