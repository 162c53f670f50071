import { describe, expect, it } from 'vitest';
import { measure } from '../../scripts/bench/measure.js';
import { buildScenario } from '../../scripts/bench/scenarios.js';
import { inFlightNeeded, renderTable } from '../../scripts/bench/table.js';

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

  it('output-token-bound (S14): the ideal counts the outputs the simulator served, not what the jobs asked for', () => {
    const s = buildScenario('S14', { jobs: 20, quick: true }); // 60,000 OTPM = 1,000 a second, max_tokens 2,000
    const t0 = 1_000_000;
    const outcomes = s.jobs.map((j, i) => ({
      id: j.id,
      tenant: undefined,
      enqueuedAt: t0,
      finishedAt: t0 + 1_550 * (i + 1),
      ok: true,
    }));
    const r = measure({
      approach: 'x',
      label: 'x',
      scenario: s,
      outcomes,
      t0,
      // The simulator served 30,000 output tokens (the jobs' mean share would say 20,000).
      stats: { requests: 20, rateLimited: { total: 0 }, succeeded: 20, outputTokens: 30_000 } as never,
      served: { requests: 20, rateLimited: 0 },
    });
    // 30,000 served + the last call's unused half of its 2,000 held until it ended, at 1,000/s.
    expect(r.idealS).toBeCloseTo(31, 5);
    expect(r.throughputShare).toBeCloseTo(31 / 31, 5);
  });

  it('calls of seconds (S12): the row carries the simulator peak in flight, the heading what the allowance needs', () => {
    const s = buildScenario('S12', { jobs: 40, quick: true }); // 10,000 RPM, 2.5-s calls
    const t0 = 1_000_000;
    const outcomes = s.jobs.map((j) => ({
      id: j.id,
      tenant: undefined,
      enqueuedAt: t0,
      finishedAt: t0 + 3_000,
      ok: true,
    }));
    const r = measure({
      approach: 'x',
      label: 'x',
      scenario: s,
      outcomes,
      t0,
      stats: { requests: 40, rateLimited: { total: 0 }, succeeded: 40, peakInFlight: 37 } as never,
      served: { requests: 40, rateLimited: 0 },
    });
    expect(r.peakInFlight).toBe(37);
    // 10,000 a minute × 2.5 s: 417 calls in flight at once.
    expect(inFlightNeeded(s)).toBe(417);
    const table = renderTable(s, r.idealS, [r]);
    expect(table).toContain('peak in flight (simulator; the allowance needs 417)');
    expect(table).toMatch(/\| 37 \|\n$/);
  });
});
