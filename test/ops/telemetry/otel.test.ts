import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secondsBuckets, tokenBuckets } from '../../../src/ops/telemetry/genai-metrics.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../../helpers/otlp-receiver.js';
import { get, post, type Stack, startStack } from '../../helpers/stack.js';

const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;
const SERVER = 2;

/**
 * One job through the whole stack with telemetry on, exported over OTLP/HTTP (JSON) to a receiver
 * in this process: enqueued over HTTP with a caller's `traceparent`, a 529 on the first attempt,
 * completed on the second.
 */
describe('OpenTelemetry: one trace per job, GenAI spans and metrics, correlated logs', () => {
  const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpan = '00f067aa0ba902b7';
  const saved = { ...process.env };
  let rx: OtlpReceiver;
  let s: Stack;
  let record: Record<string, any>;
  let jobId: string;
  let logs: Array<Record<string, unknown>>;

  beforeAll(async () => {
    rx = await startOtlpReceiver();
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'promptq-test',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
    s = await startStack();
    s.sim.script([{ status: 529 }]);
    const r = await post(
      `${s.url}/v1/jobs`,
      { model: 'claude-haiku-4-5', max_tokens: 64, prompt: 'Say hello', tenant_id: 'acme' },
      { traceparent: `00-${callerTrace}-${callerSpan}-01` },
    );
    expect(r.status).toBe(202);
    jobId = String(r.body.id);
    const g = await get(`${s.url}/v1/jobs/${jobId}?wait=20`);
    expect(g.body.state).toBe('completed');
    record = g.body.record;
    logs = s.logs;
    // Closing the service shuts the SDK down, which flushes every span and metric.
    await s.close();
  });

  afterAll(async () => {
    process.env = saved;
    await rx.close();
  });

  const attr = (span: ReceivedSpan | undefined, key: string) => span?.attributes[key];

  it('exports one trace with the caller’s trace id, over http/json', () => {
    expect(rx.requests.some((r) => r.path === '/v1/traces' && r.contentType.includes('json'))).toBe(true);
    const job = rx.spans.filter(
      (sp) => sp.attributes['messaging.message.id'] === jobId || sp.attributes['promptq.job.id'] === jobId,
    );
    expect(job.length).toBeGreaterThan(0);
    expect(new Set(job.map((sp) => sp.traceId))).toEqual(new Set([callerTrace]));
    expect(rx.spans[0]?.resource['service.name']).toBe('promptq-test');
    expect(rx.spans[0]?.resource['deployment.environment.name']).toBe('test');
  });

  it('has the enqueue, the queue wait, two processings and the limiter waits, nested', () => {
    const inTrace = rx.spans.filter((sp) => sp.traceId === callerTrace);
    const byId = new Map(inTrace.map((sp) => [sp.spanId, sp]));
    const http = inTrace.find((sp) => sp.name === 'POST /v1/jobs');
    expect(http).toMatchObject({ kind: SERVER, parentSpanId: callerSpan });
    expect(attr(http, 'http.response.status_code')).toBe(202);
    const send = inTrace.find((sp) => sp.kind === PRODUCER);
    expect(send?.name).toBe(`send ${s.config.queue}`);
    expect(send?.parentSpanId).toBe(http?.spanId);
    const wait = inTrace.find((sp) => sp.name === 'promptq.queue_wait');
    expect(wait?.parentSpanId).toBe(send?.spanId);
    const processes = inTrace.filter((sp) => sp.name === 'promptq.process');
    // The 529 delays the job; a second pickup completes it.
    expect(processes).toHaveLength(2);
    for (const p of processes) expect(p).toMatchObject({ kind: CONSUMER, parentSpanId: send?.spanId });
    const limiter = inTrace.filter((sp) => sp.name === 'promptq.limiter.wait');
    expect(limiter).toHaveLength(2);
    for (const l of limiter) expect(byId.get(l.parentSpanId)?.name).toBe('promptq.process');
  });

  it('makes each attempt a GenAI client span; the tokens equal the record', () => {
    const attempts = rx.spans
      .filter((sp) => sp.traceId === callerTrace && sp.kind === CLIENT)
      .sort((a, b) => Number(a.startNs - b.startNs));
    expect(attempts).toHaveLength(2);
    for (const a of attempts) {
      expect(a.name).toBe('chat claude-haiku-4-5');
      expect(a.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'anthropic',
        'gen_ai.request.model': 'claude-haiku-4-5',
        'gen_ai.request.max_tokens': 64,
      });
    }
    const [overloaded, ok] = attempts;
    expect(overloaded?.status).toBe(2);
    expect(attr(overloaded, 'error.type')).toBe('overloaded_error');
    expect(attr(overloaded, 'http.response.status_code')).toBe(529);
    expect(overloaded?.events.map((e) => e.name)).toEqual(['promptq.retry']);
    expect(overloaded?.events[0]?.attributes['promptq.retry.reason']).toBeTypeOf('string');

    expect(ok?.status).toBe(0);
    expect(attr(ok, 'error.type')).toBeUndefined();
    expect(ok?.attributes).toMatchObject({
      'gen_ai.response.model': expect.stringContaining('claude-haiku-4-5'),
      'gen_ai.response.id': expect.stringMatching(/^msg_/),
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.input_tokens':
        record.input_tokens + record.cache_read_input_tokens + record.cache_creation_input_tokens,
      'gen_ai.usage.output_tokens': record.output_tokens,
      'gen_ai.usage.cache_read.input_tokens': record.cache_read_input_tokens,
      'gen_ai.usage.cache_creation.input_tokens': record.cache_creation_input_tokens,
      'anthropic.request.id': record.request_id,
    });
    expect(record.attempts).toBe(2);
    // The SDK's own call span is off: one GenAI span per call.
    expect(rx.spans.filter((sp) => sp.name === 'anthropic.messages.create')).toHaveLength(0);
  });

  it('exports the GenAI metrics with the conventions’ names, attributes and buckets', () => {
    const usage = rx.points.filter((p) => p.metric === 'gen_ai.client.token.usage');
    const input = usage.find((p) => p.attributes['gen_ai.token.type'] === 'input');
    const output = usage.find((p) => p.attributes['gen_ai.token.type'] === 'output');
    expect(input).toMatchObject({ unit: '{token}', count: 1, explicitBounds: tokenBuckets });
    expect(input?.sum).toBe(
      record.input_tokens + record.cache_read_input_tokens + record.cache_creation_input_tokens,
    );
    expect(output?.sum).toBe(record.output_tokens);
    expect(input?.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-haiku-4-5',
    });
    const duration = rx.points.filter((p) => p.metric === 'gen_ai.client.operation.duration');
    expect(duration.every((p) => p.unit === 's')).toBe(true);
    expect(duration.find((p) => p.attributes['error.type'] === 'overloaded_error')?.count).toBe(1);
    const success = duration.find((p) => p.attributes['error.type'] === undefined);
    expect(success).toMatchObject({ count: 1, explicitBounds: secondsBuckets });
    expect(success?.sum).toBeCloseTo(record.latency_ms / 1000, 2);
    const ttfc = rx.points.find((p) => p.metric === 'gen_ai.client.operation.time_to_first_chunk');
    expect(ttfc).toMatchObject({ unit: 's', count: 1, explicitBounds: secondsBuckets });
  });

  it('puts the trace id and the attempt span id on every attempt log line', () => {
    const lines = logs.filter((l) => l.msg === 'api_attempt' && l.job_id === jobId);
    expect(lines).toHaveLength(2);
    const attemptSpans = new Set(
      rx.spans.filter((sp) => sp.traceId === callerTrace && sp.kind === CLIENT).map((sp) => sp.spanId),
    );
    for (const l of lines) {
      expect(l.trace_id).toBe(callerTrace);
      expect(attemptSpans.has(String(l.span_id))).toBe(true);
    }
  });
});
