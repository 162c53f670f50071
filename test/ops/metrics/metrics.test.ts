import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCUMENTED_METRICS } from '../../deploy/documented-metrics.js';
import { get, type Stack, startStack } from '../../helpers/stack.js';
import type { FinishedJob } from '../dashboard/workload.js';
import { labelsOf, runWorkload, sum } from '../dashboard/workload.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of the text exposition format (what Prometheus would scrape). */
function parseExposition(text: string): { samples: Sample[]; types: Record<string, string> } {
  const samples: Sample[] = [];
  const types: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t?.[1] && t[2]) types[t[1]] = t[2];
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m?.[1] || m[3] === undefined) throw new Error(`unparsable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, types };
}

const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
const onCI = !['', '0', 'false', undefined].includes(process.env.CI);

describe('/metrics after a simulated run', () => {
  let s: Stack;
  let jobs: FinishedJob[];
  let text: string;
  let samples: Sample[];
  let types: Record<string, string>;

  beforeAll(async () => {
    s = await startStack({ sim: { ttftMs: 20 }, env: { PROMPTQ_MAX_TENANT_LABELS: '2' } });
    jobs = await runWorkload(s);
    text = (await get(`${s.url}/metrics`)).body.text as string;
    ({ samples, types } = parseExposition(text));
  }, 60_000);
  afterAll(() => s?.close());

  const of = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));

  it('exports every documented family with its type, and process default metrics', () => {
    // This run has no registered tenants: their families' samples are checked in test/tenants/.
    const tenantOnly = [
      'promptq_tenant_budget_usd',
      'promptq_tenant_spent_usd',
      'promptq_budget_rejections_total',
    ];
    for (const [name, type] of Object.entries(DOCUMENTED_METRICS)) {
      expect(types[name], name).toBe(type);
      if (tenantOnly.includes(name)) continue;
      const series = type === 'histogram' ? `${name}_count` : name;
      expect(of(series).length, `${series} has samples`).toBeGreaterThan(0);
    }
    expect(types.promptq_process_cpu_seconds_total).toBe('counter');
    expect(types.promptq_process_resident_memory_bytes).toBe('gauge');
  });

  it('has sensible values: requests, jobs, queue gauges and a live worker', () => {
    const completed = jobs.filter((j) => j.state === 'completed').length;
    expect(sum(of('promptq_requests_total', { outcome: 'success' }).map((x) => x.value))).toBe(completed);
    expect(sum(of('promptq_requests_total', { outcome: 'client_error' }).map((x) => x.value))).toBe(1);
    expect(of('promptq_requests_total', { outcome: 'overloaded', status_code: '529' })[0]?.value).toBe(1);
    expect(of('promptq_retries_total', { reason: 'overloaded' })[0]?.value).toBe(1);
    expect(of('promptq_jobs_total', { status: 'completed' })[0]?.value).toBe(completed);
    expect(of('promptq_jobs_total', { status: 'failed' })[0]?.value).toBe(1);
    expect(of('promptq_queue_jobs', { state: 'completed' })[0]?.value).toBe(completed);
    expect(of('promptq_queue_jobs', { state: 'waiting' })[0]?.value).toBe(0);
    expect(of('promptq_workers')[0]?.value).toBe(1);
    expect(of('promptq_queue_oldest_waiting_seconds')[0]?.value).toBe(0);
    // The simulator's headers were seen: a limit and a remainder per resource.
    const limit = of('promptq_ratelimit_limit', { resource: 'requests' })[0]?.value ?? 0;
    expect(limit).toBeGreaterThan(0);
    expect(of('promptq_ratelimit_remaining', { resource: 'requests' })[0]?.value).toBeLessThanOrEqual(limit);
    // Histogram counts agree with the jobs, and latencies sit inside the bucket range.
    expect(sum(of('promptq_request_duration_seconds_count').map((x) => x.value))).toBe(completed);
    expect(sum(of('promptq_job_duration_seconds_count').map((x) => x.value))).toBe(jobs.length);
    const latencySum = sum(of('promptq_request_duration_seconds_sum').map((x) => x.value));
    expect(latencySum).toBeCloseTo(
      sum(jobs.filter((j) => j.state === 'completed').map((j) => (j.record.latency_ms ?? 0) / 1000)),
      2,
    );
  });

  it('histogram buckets span LLM latencies: tens of ms to many minutes', () => {
    for (const name of [
      'promptq_request_duration_seconds',
      'promptq_time_to_first_token_seconds',
      'promptq_queue_wait_seconds',
      'promptq_job_duration_seconds',
    ]) {
      const les = [...new Set(of(`${name}_bucket`).map((x) => x.labels.le))]
        .filter((le) => le !== '+Inf')
        .map(Number);
      expect(Math.min(...les), name).toBeLessThanOrEqual(0.05);
      expect(Math.max(...les), name).toBeGreaterThanOrEqual(60);
      expect(les.length, name).toBeGreaterThanOrEqual(10);
    }
  });

  it('token and cost counters equal the sums over job records, per tenant, `other` included', () => {
    const label = labelsOf(jobs, 2);
    const tenants = new Set(of('promptq_tokens_total').map((x) => x.labels.tenant));
    expect(tenants).toEqual(new Set(['acme', 'globex', 'other']));
    const types = {
      input: 'input_tokens',
      output: 'output_tokens',
      cache_creation: 'cache_creation_input_tokens',
      cache_read: 'cache_read_input_tokens',
    } as const;
    for (const t of tenants) {
      const mine = jobs.filter((j) => label.get(j) === t).map((j) => j.record);
      for (const [type, field] of Object.entries(types)) {
        expect(
          sum(of('promptq_tokens_total', { tenant: t ?? '', type }).map((x) => x.value)),
          `${t} ${type}`,
        ).toBe(sum(mine.map((r) => r[field])));
      }
      expect(sum(of('promptq_cost_usd_total', { tenant: t ?? '' }).map((x) => x.value)), t).toBeCloseTo(
        sum(mine.map((r) => r.cost_usd ?? 0)),
        9,
      );
    }
  });

  it.runIf(promtool !== undefined || onCI)('`promtool check metrics` finds nothing to complain about', () => {
    if (!promtool) expect.fail('promtool is not on PATH (Debian: apt-get install prometheus)');
    const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    expect(r.error).toBeUndefined();
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });
});
