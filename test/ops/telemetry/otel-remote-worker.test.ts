import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliProcess, spawnCli } from '../../helpers/cli.js';
import { type OtlpReceiver, startOtlpReceiver } from '../../helpers/otlp-receiver.js';
import { get, post, type Stack, startStack, testApiKey } from '../../helpers/stack.js';

/**
 * The trace context travels inside the job: the API (this process) enqueues, a `promptq worker`
 * process — another machine, as far as it can tell — runs the job and continues the same trace.
 */
describe('OpenTelemetry: a worker in another process continues the job’s trace', () => {
  const callerTrace = '0af7651916cd43dd8448eb211c80319c';
  const saved = { ...process.env };
  let rx: OtlpReceiver;
  let s: Stack;
  let worker: CliProcess;
  let jobId: string;

  beforeAll(async () => {
    rx = await startOtlpReceiver();
    const otel = {
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    };
    Object.assign(process.env, otel, { OTEL_SERVICE_NAME: 'promptq-api' });
    s = await startStack({ parts: { worker: false } });
    worker = spawnCli(['worker'], {
      ...otel,
      OTEL_SERVICE_NAME: 'promptq-worker',
      REDIS_URL: s.config.redis.url,
      PROMPTQ_QUEUE: s.config.queue,
      ANTHROPIC_API_KEY: testApiKey,
      ANTHROPIC_BASE_URL: s.sim.url,
      PORT: '0',
    });
    await worker.waitForLog((l) => l.msg === 'promptq running');
    const r = await post(
      `${s.url}/v1/jobs`,
      { model: 'claude-haiku-4-5', max_tokens: 32, prompt: 'Hello from afar' },
      { traceparent: `00-${callerTrace}-b7ad6b7169203331-01` },
    );
    jobId = String(r.body.id);
    expect((await get(`${s.url}/v1/jobs/${jobId}?wait=20`)).body.state).toBe('completed');
    // A graceful stop flushes the worker's spans; closing the stack flushes the API's.
    worker.proc.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    await s.close();
  });

  afterAll(async () => {
    worker?.proc.kill('SIGKILL');
    process.env = saved;
    await rx.close();
  });

  it('the worker’s spans are in the caller’s trace, under the API’s enqueue span', () => {
    const inTrace = rx.spans.filter((sp) => sp.traceId === callerTrace);
    const send = inTrace.find((sp) => sp.name === `send ${s.config.queue}`);
    expect(send?.resource['service.name']).toBe('promptq-api');
    const process_ = inTrace.find((sp) => sp.name === 'promptq.process');
    expect(process_?.resource['service.name']).toBe('promptq-worker');
    expect(process_?.parentSpanId).toBe(send?.spanId);
    const attempt = inTrace.find((sp) => sp.name === 'chat claude-haiku-4-5');
    expect(attempt?.resource['service.name']).toBe('promptq-worker');
    expect(attempt?.parentSpanId).toBe(process_?.spanId);
    expect(attempt?.attributes['promptq.job.id']).toBe(jobId);
  });

  it('the worker’s attempt log line carries the trace id', () => {
    const line = worker.logs().find((l) => l.msg === 'api_attempt' && l.job_id === jobId);
    expect(line?.trace_id).toBe(callerTrace);
    expect(line?.span_id).toMatch(/^[0-9a-f]{16}$/);
  });
});
