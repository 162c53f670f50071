/**
 * The GenAI client metrics of the OpenTelemetry semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/), from the worker's events,
 * beside the Prometheus families (which keep their names). The bucket boundaries are the
 * conventions' advice.
 */

import { type Attributes, metrics } from '@opentelemetry/api';
import { defaults } from '../../core/defaults.js';
import type { EventSource } from '../../events/types.js';
import { genAiProviderName } from '../../providers/provider.js';
import { type ModelCatalog, ModelLabels } from '../metrics/model-labels.js';

/** `gen_ai.client.token.usage`: powers of 4, 1 → 67,108,864 tokens. */
export const tokenBuckets = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
/** `gen_ai.client.operation.duration` and time to first chunk: doubling from 10 ms to 81.92 s. */
export const secondsBuckets = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

export interface GenAiMetricsOptions {
  /**
   * Distinct model names kept as attribute values; later ones are `other`, so made-up model names
   * cannot grow the exported series (as `PROMPTQ_MAX_MODEL_LABELS` for /metrics).
   * @defaultValue `defaults.labels.maxModels`
   */
  maxModelLabels?: number;
  /** The model names that always keep theirs (ops/metrics/model-labels.ts). @defaultValue the vendored price list */
  models?: ModelCatalog | undefined;
}

/** Known models keep their name; of the rest the first `max` do, later ones are `other` (model-labels.ts). */
export function modelNameCap(max: number, models?: ModelCatalog): (model: string) => string {
  const labels = new ModelLabels(max, models);
  return (model) => labels.label(model);
}

export function subscribeGenAiMetrics(events: EventSource, opts: GenAiMetricsOptions = {}): void {
  const label = modelNameCap(opts.maxModelLabels ?? defaults.labels.maxModels, opts.models);
  const meter = metrics.getMeter('promptq');
  const tokens = meter.createHistogram('gen_ai.client.token.usage', {
    description: 'Number of input and output tokens used',
    unit: '{token}',
    advice: { explicitBucketBoundaries: tokenBuckets },
  });
  const duration = meter.createHistogram('gen_ai.client.operation.duration', {
    description: 'GenAI operation duration',
    unit: 's',
    advice: { explicitBucketBoundaries: secondsBuckets },
  });
  const firstChunk = meter.createHistogram('gen_ai.client.operation.time_to_first_chunk', {
    description: 'Time to receive the first chunk of a streamed response',
    unit: 's',
    advice: { explicitBucketBoundaries: secondsBuckets },
  });

  events.on('attempt', ({ model, outcome, durationMs, record }) => {
    const base: Attributes = {
      'gen_ai.operation.name': 'chat',
      // The provider of the account that served the attempt (Bedrock, Vertex, …).
      'gen_ai.provider.name': genAiProviderName(record.provider),
      'gen_ai.request.model': label(model),
    };
    if (outcome.kind === 'completed') {
      const r = outcome.result;
      const u = r.message.usage;
      const attrs = { ...base, 'gen_ai.response.model': label(r.message.model) };
      // Input counts every input token, cached or not, as the conventions ask.
      const input = u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);
      tokens.record(input, { ...attrs, 'gen_ai.token.type': 'input' });
      tokens.record(u.output_tokens, { ...attrs, 'gen_ai.token.type': 'output' });
      if (r.latencyMs !== null) duration.record(r.latencyMs / 1000, attrs);
      if (r.ttftMs !== null) firstChunk.record(r.ttftMs / 1000, attrs);
      return;
    }
    if (durationMs !== undefined) {
      duration.record(durationMs / 1000, { ...base, 'error.type': outcome.decision.errorType });
    }
  });
}
