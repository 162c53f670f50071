import { afterEach, describe, expect, it } from 'vitest';
import { Logger } from '../../../src/core/log.js';
import { type RunningService, runService } from '../../../src/ops/service.js';
import { get, post, type Stack, startStack } from '../../helpers/stack.js';
import { dashboardCounting, sum } from './workload.js';

const value = (text: string, re: RegExp) => sum([...text.matchAll(re)].map((m) => Number(m[1])));

describe('several worker processes on one queue', () => {
  let s: Stack;
  let second: RunningService | undefined;
  afterEach(async () => {
    await second?.close();
    await s?.close();
  });

  it('rollups are queue-wide and counters per process: nothing is counted twice', async () => {
    s = await startStack({ sim: { ttftMs: 30 }, env: { PROMPTQ_CONCURRENCY: '2' } });
    // A second worker process's service on the same queue (its own metrics registry).
    second = await runService(
      s.config,
      { api: false, worker: true, embedRedis: false },
      new Logger('silent'),
    );
    const n = 12;
    const ids = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const r = await post(`${s.url}/v1/jobs`, {
          model: 'claude-haiku-4-5',
          max_tokens: 60,
          prompt: `job ${i}`,
          tenant_id: `t${i % 3}`,
        });
        return r.body.id as string;
      }),
    );
    const records = [];
    for (const id of ids) {
      const v = await get(`${s.url}/v1/jobs/${id}?wait=30`);
      expect(v.body.state).toBe('completed');
      records.push(v.body.record);
    }
    const [a, b] = await Promise.all([get(`${s.url}/metrics`), get(`${second.url}/metrics`)]);
    const ma = a.body.text as string;
    const mb = b.body.text as string;
    // Each process counts its own jobs; Prometheus' sum over the two is every job once.
    const perProcess = [ma, mb].map((m) => value(m, /^promptq_jobs_total\{status="completed"\} (\d+)$/gm));
    expect(sum(perProcess)).toBe(n);
    // Both workers did work: a second worker that took no job would make "nothing counted twice" moot.
    for (const count of perProcess) expect(count).toBeGreaterThanOrEqual(1);
    const tokens = [ma, mb].map((m) => value(m, /^promptq_tokens_total\{[^}]*type="output"[^}]*\} (\d+)$/gm));
    expect(sum(tokens)).toBe(sum(records.map((r) => r.output_tokens)));
    // Queue gauges are the same queue-wide fact from both (dashboards take max).
    for (const m of [ma, mb]) expect(m).toMatch(/^promptq_workers\{queue="[^"]+"\} 2$/m);

    // The rollups, written by both workers, count every job once.
    const d = await dashboardCounting(s, n);
    expect(d.totals.output_tokens).toBe(sum(records.map((r) => r.output_tokens)));
    expect(d.totals.cost_usd).toBeCloseTo(sum(records.map((r) => r.cost_usd)), 6);
  });
});
