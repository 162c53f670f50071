/**
 * The worker's spans (the OpenTelemetry API only; core/trace.ts says why that costs nothing when
 * telemetry is off). One trace per job, continued from the context the job was enqueued in. Under it: the time in the queue, one `process` span per time a worker picks
 * the job up, and under that the limiter wait and each API attempt as a GenAI client span
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/). Retries and 429 pauses are
 * events on the attempt that caused them.
 *
 * The Anthropic SDK's own spans are off on promptq's client (providers/anthropic/client.ts): the attempt span
 * here is the GenAI span, with the tokens as the record has them, so a backend that sums GenAI spans
 * counts each call once.
 */
import { type Attributes, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { JobRequest } from '../core/job.js';
import type { JobRecord } from '../core/record.js';
import { jobContext, type TraceCarrierOpts } from '../core/trace.js';
import type { AttemptOutcome } from '../events/outcome.js';

const tracer = trace.getTracer('promptq');

/** The job's wait in the queue, enqueue → first pickup, as a span drawn after the fact. */
export function recordQueueWait(
  opts: TraceCarrierOpts,
  jobId: string,
  enqueuedAt: number,
  now: number,
): void {
  tracer
    .startSpan(
      'promptq.queue_wait',
      { startTime: enqueuedAt, attributes: { 'messaging.message.id': jobId } },
      jobContext(opts),
    )
    .end(now);
}

/**
 * A GenAI client span for one API attempt, child of the active span; ended by {@link endAttemptSpan}.
 * `provider`: the provider's name (`anthropic`), the `gen_ai.provider.name` attribute.
 */
export function startAttemptSpan(
  provider: string,
  request: JobRequest,
  jobId: string,
  attempt: number,
): Span {
  const attributes: Attributes = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': provider,
    'gen_ai.request.model': request.model,
    'gen_ai.request.max_tokens': request.max_tokens,
    'promptq.job.id': jobId,
    'promptq.attempt': attempt,
  };
  if (typeof request.temperature === 'number') attributes['gen_ai.request.temperature'] = request.temperature;
  if (typeof request.top_p === 'number') attributes['gen_ai.request.top_p'] = request.top_p;
  return tracer.startSpan(`chat ${request.model}`, { kind: SpanKind.CLIENT, attributes });
}

/**
 * The attempt's answer onto its span, then end it. Token counts follow the conventions:
 * `gen_ai.usage.input_tokens` counts every input token, cached or not (the record's
 * `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`), and the cache counts
 * are also given apart.
 */
export function endAttemptSpan(span: Span, outcome: AttemptOutcome, record: JobRecord): void {
  if (outcome.kind === 'completed') {
    const result = outcome.result;
    const message = result.message;
    span.setAttributes({
      'gen_ai.response.id': message.id,
      'gen_ai.response.model': message.model,
      'gen_ai.response.finish_reasons': message.stop_reason === null ? [] : [message.stop_reason],
      'gen_ai.usage.input_tokens':
        record.input_tokens + record.cache_read_input_tokens + record.cache_creation_input_tokens,
      'gen_ai.usage.output_tokens': record.output_tokens,
      'gen_ai.usage.cache_read.input_tokens': record.cache_read_input_tokens,
      'gen_ai.usage.cache_creation.input_tokens': record.cache_creation_input_tokens,
      'http.response.status_code': result.statusCode,
    });
    if (result.requestId) span.setAttribute('anthropic.request.id', result.requestId);
    if (result.ttftMs !== null)
      span.setAttribute('gen_ai.response.time_to_first_chunk', result.ttftMs / 1000);
    span.end();
    return;
  }
  const decision = outcome.decision;
  span.setAttribute('error.type', decision.errorType);
  if (decision.statusCode !== null) span.setAttribute('http.response.status_code', decision.statusCode);
  if (decision.requestId) span.setAttribute('anthropic.request.id', decision.requestId);
  span.setStatus({ code: SpanStatusCode.ERROR, message: decision.message });
  if (outcome.kind === 'retry') {
    span.addEvent('promptq.retry', {
      'promptq.retry.reason': decision.reason,
      'promptq.retry.delay_ms': outcome.delayMs,
    });
  } else if (outcome.kind === 'rate_limited') {
    span.addEvent('promptq.rate_limited', {
      'promptq.retry.reason': decision.reason,
      ...(decision.retryAfterMs === null ? {} : { 'promptq.retry_after_ms': decision.retryAfterMs }),
    });
  } else if (outcome.kind === 'spend_limit') {
    span.addEvent('promptq.spend_limit', { 'promptq.error_code': decision.errorCode ?? 'spend_limit' });
  }
  span.end();
}
