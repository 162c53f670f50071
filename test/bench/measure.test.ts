import { describe, expect, it } from 'vitest';
import { measure } from '../../scripts/bench/measure.js';
import { buildScenario } from '../../scripts/bench/scenarios.js';

describe('bench measurements', () => {
  it('counts what the other service got as used capacity (S4), so starving it is not throughput', () => {
    const s = buildScenario('S4', { jobs: 40, quick: true }); // 600 RPM = 10/s, other service from 1 s
    const t0 = 1_000_000;
    // 40 jobs done by 5 s; the other service got 10 requests in that time: 50 requests in 5 s = ideal.
    const outcomes = s.jobs.map((j, i) => ({
      id: j.id,
      tenant: undefined,
      enqueuedAt: t0,
      finishedAt: t0 + 125 * (i + 1),
      ok: true,
    }));
    const okAt = Array.from({ length: 10 }, (_, i) => t0 + 1_000 + 400 * i);
    const r = measure({
      approach: 'x',
      label: 'x',
      scenario: s,
      outcomes,
      t0,
      stats: { requests: 60, rateLimited: { total: 0 }, succeeded: 50 } as never,
      served: { requests: 50, rateLimited: 0 },
      afterDrop: {
        at: t0 + 1_000,
        served: { requests: 42, rateLimited: 0 },
        competitor: { sent: 10, rateLimited: 0, okAt },
      },
    });
    expect(r.idealS).toBeCloseTo(5, 5);
    expect(r.throughputShare).toBeCloseTo(1, 5);
    expect(r.p95Ms).toBe(125 * 38);
    expect(r.afterDrop?.otherRefused).toBe(0);
    // The window from drop + 10 s is past the end of this short run.
    expect(r.afterDrop?.throughputShare).toBeNull();
  });
});
