import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { telemetryWanted } from '../../../src/ops/telemetry/telemetry.js';
import { uniqueQueue } from '../../helpers/stack.js';

const fixtures = join(import.meta.dirname, 'fixtures');

/** Run one job in a fresh process; which `@opentelemetry/*` packages did it load? */
function oneJob(env: Record<string, string>): Promise<{ state: string; packages: string[] }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
  const proc = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      join(fixtures, 'record-modules.mjs'),
      '--import',
      'tsx',
      join(fixtures, 'one-job.ts'),
    ],
    {
      cwd: join(import.meta.dirname, '../../..'),
      env: {
        ...clean,
        ANTHROPIC_API_KEY: '',
        REDIS_URL: inject('redisUrl'),
        PROMPTQ_QUEUE: uniqueQueue(),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d));
  proc.stderr.on('data', (d: Buffer) => (err += d));
  return new Promise((resolve, reject) =>
    proc.on('exit', (code) => {
      if (code !== 0) reject(new Error(`exit ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}'));
    }),
  );
}

describe('OpenTelemetry off by default', () => {
  it('is wanted only when an OTLP endpoint variable is set and the SDK is not disabled', () => {
    expect(telemetryWanted({})).toBe(false);
    expect(telemetryWanted({ OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toBe(false);
    expect(telemetryWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(true);
    expect(telemetryWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toBe(true);
    expect(telemetryWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })).toBe(
      false,
    );
  });

  it('with no OTEL_* endpoint, a process that runs a job loads no SDK or exporter module (only the API)', async () => {
    const off = await oneJob({});
    expect(off.state).toBe('completed');
    expect(off.packages).toEqual(['api']);
  });

  it('with an endpoint set, the same process loads the SDK and the OTLP exporters', async () => {
    // Nothing listens there: the export fails quietly, the job does not.
    const on = await oneJob({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      OTEL_EXPORTER_OTLP_TIMEOUT: '200',
      OTEL_LOGS_EXPORTER: 'none',
    });
    expect(on.state).toBe('completed');
    expect(on.packages).toEqual(expect.arrayContaining(['api', 'sdk-node', 'sdk-trace-base']));
    // (Modules the SDK's CommonJS files require among themselves are not seen here; its exporters are.)
    expect(on.packages.some((p) => p.startsWith('exporter-trace-otlp'))).toBe(true);
    expect(on.packages.some((p) => p.startsWith('exporter-metrics-otlp'))).toBe(true);
  });
});
