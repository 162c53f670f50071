/**
 * A small mixed workload through a real stack: two models (one the price list does not name, so
 * unpriced calls are counted too), four tenants (with the tenant label
 * bounded to 2, so two of them land in `other`), and one job the API rejects. Returns the finished
 * jobs as `GET /v1/jobs/:id` shows them, so tests can compare every aggregate with the records.
 */
import { expect } from 'vitest';
import type { JobRecord } from '../../../src/core/record.js';
import type { DashboardData } from '../../../src/ops/dashboard/summary.js';
import { get, post, type Stack } from '../../helpers/stack.js';

export interface FinishedJob {
  id: string;
  state: 'completed' | 'failed';
  record: JobRecord;
}

export const workload = [
  { model: 'claude-haiku-4-5', max_tokens: 300, tenant_id: 'acme' },
  { model: 'claude-sonnet-4-9', max_tokens: 800, tenant_id: 'acme' },
  { model: 'claude-haiku-4-5', max_tokens: 120, tenant_id: 'globex' },
  { model: 'claude-sonnet-4-9', max_tokens: 400, tenant_id: 'initech' },
  { model: 'claude-haiku-4-5', max_tokens: 1000, tenant_id: 'umbrella' },
  { model: 'claude-haiku-4-5', max_tokens: 200, tenant_id: 'globex' },
];

/** Runs the workload one job at a time (so tenant labels are assigned in a known order). */
export async function runWorkload(s: Stack, headers: Record<string, string> = {}): Promise<FinishedJob[]> {
  const out: FinishedJob[] = [];
  // The first job meets a 529 (retried), then a 400: it fails for good (retries, error rate).
  s.sim.script([
    { status: 529 },
    { status: 400, type: 'invalid_request_error', message: 'rejected on purpose' },
  ]);
  for (const [i, job] of workload.entries()) {
    const r = await post(
      `${s.url}/v1/jobs`,
      { ...job, prompt: `Write ${i + 2} sentences about queues.` },
      headers,
    );
    expect(r.status).toBe(202);
    const v = await get(`${s.url}/v1/jobs/${r.body.id as string}?wait=20`, headers);
    expect(['completed', 'failed']).toContain(v.body.state);
    out.push({ id: r.body.id as string, state: v.body.state, record: v.body.record as JobRecord });
  }
  return out;
}

/** The tenant label a record was counted under, with labels bounded to `max` in arrival order. */
export function labelsOf(jobs: FinishedJob[], max: number): Map<FinishedJob, string> {
  const named: string[] = [];
  const m = new Map<FinishedJob, string>();
  for (const j of jobs) {
    const t = j.record.tenant_id ?? 'none';
    if (!named.includes(t) && named.length < max) named.push(t);
    m.set(j, named.includes(t) ? t : 'other');
  }
  return m;
}

export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * `/dashboard/data` once its rollups count `jobs` jobs. A job's rollup is written by an observer of
 * its `finished` event, off the job's path: it may land a moment after the job's state does.
 */
export async function dashboardCounting(
  s: Stack,
  jobs: number,
  headers: Record<string, string> = {},
): Promise<DashboardData> {
  let data: DashboardData | undefined;
  for (let i = 0; i < 100; i++) {
    const r = await get(`${s.url}/dashboard/data?range=1h`, headers);
    expect(r.status).toBe(200);
    data = r.body as DashboardData;
    if (data.totals.jobs >= jobs) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(data?.totals.jobs).toBe(jobs);
  return data as DashboardData;
}
