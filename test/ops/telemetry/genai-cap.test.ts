/**
 * The GenAI metrics' model attributes are capped like /metrics' model label: made-up model names
 * cannot grow the exported series. Read through a real SDK MeterProvider.
 */
import { metrics as api } from '@opentelemetry/api';
import { metrics as sdk } from '@opentelemetry/sdk-node';
import { describe, expect, it } from 'vitest';
import { defaults } from '../../../src/core/defaults.js';
import type { JobRequest } from '../../../src/core/job.js';
import { defaultJobLimits } from '../../../src/core/job-schema.js';
import { newRecord } from '../../../src/core/record.js';
import { PromptqEvents } from '../../../src/events/emitter.js';
import { modelNameCap, subscribeGenAiMetrics } from '../../../src/ops/telemetry/genai-metrics.js';
import { PriceTable } from '../../../src/providers/anthropic/pricing.js';
import { JobProcessor } from '../../../src/worker/core.js';
import { fakeClient, fakeJob, fakeLimiter, memoryRecords } from '../../worker/fakes.js';

class Reader extends sdk.MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

describe('GenAI metrics: bounded model attributes', () => {
  it('modelNameCap keeps the first N names (N accepted, N+1 is other)', () => {
    const cap = modelNameCap(2);
    expect([cap('a'), cap('b'), cap('a'), cap('c'), cap('b')]).toEqual(['a', 'b', 'a', 'other', 'b']);
  });

  it('10 made-up models with a cap of 3: 3 named series and other', async () => {
    const reader = new Reader();
    const provider = new sdk.MeterProvider({ readers: [reader] });
    api.setGlobalMeterProvider(provider);
    try {
      const events = new PromptqEvents();
      subscribeGenAiMetrics(events, { maxModelLabels: 3 });
      const p = new JobProcessor({
        ...defaults.worker,
        provider: fakeClient(Array.from({ length: 10 }, () => ({ ok: true as const }))).provider,
        limiter: fakeLimiter().limiter,
        records: memoryRecords().port,
        prices: new PriceTable(),
        events,
        maxAttempts: 3,
        maxRateLimited: 1,
        requestTimeoutMs: 5000,
        jobLimits: defaultJobLimits,
      });
      for (let i = 0; i < 10; i++) {
        await p.process(
          fakeJob({ model: `made-up-${i}`, max_tokens: 10, prompt: 'hi' }, { id: `j${i}` }),
          't',
        );
      }
      const { resourceMetrics } = await reader.collect();
      const duration = resourceMetrics.scopeMetrics
        .flatMap((s) => s.metrics)
        .find((m) => m.descriptor.name === 'gen_ai.client.operation.duration');
      const models = new Set(duration?.dataPoints.map((d) => String(d.attributes['gen_ai.request.model'])));
      expect([...models].sort()).toEqual(['made-up-0', 'made-up-1', 'made-up-2', 'other']);
      const count = duration?.dataPoints.reduce((n, d) => n + (d.value as { count: number }).count, 0);
      expect(count).toBe(10);
    } finally {
      await provider.shutdown();
      api.disable();
    }
  });

  it("gen_ai.provider.name is the serving account's provider: aws.bedrock, gcp.vertex_ai, anthropic", async () => {
    const reader = new Reader();
    const provider = new sdk.MeterProvider({ readers: [reader] });
    api.setGlobalMeterProvider(provider);
    try {
      const events = new PromptqEvents();
      subscribeGenAiMetrics(events);
      const request = { model: 'claude-haiku-4-5', max_tokens: 10, messages: [] } as unknown as JobRequest;
      for (const served of ['bedrock', 'vertex', 'gateway', null]) {
        const record = { ...newRecord(request, Date.now()), provider: served };
        const outcome = { kind: 'retry', delayMs: 1, decision: { errorType: 'overloaded_error' } };
        await events.emit('attempt', {
          jobId: `j-${served}`,
          model: request.model,
          record,
          request,
          outcome: outcome as never,
          durationMs: 10,
        });
      }
      const { resourceMetrics } = await reader.collect();
      const duration = resourceMetrics.scopeMetrics
        .flatMap((s) => s.metrics)
        .find((m) => m.descriptor.name === 'gen_ai.client.operation.duration');
      const names = duration?.dataPoints.map((d) => String(d.attributes['gen_ai.provider.name'])).sort();
      expect(names).toEqual(['anthropic', 'aws.bedrock', 'gcp.vertex_ai']);
      const anthropic = duration?.dataPoints.find(
        (d) => d.attributes['gen_ai.provider.name'] === 'anthropic',
      );
      // The gateway's and the unknown provider's attempts: both the Anthropic API's shape.
      expect((anthropic!.value as { count: number }).count).toBe(2);
    } finally {
      await provider.shutdown();
      api.disable();
    }
  });
});
