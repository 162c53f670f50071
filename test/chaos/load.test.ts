import { describe, expect, inject, it } from 'vitest';
import { runLoad } from '../../scripts/load.js';

// The size: 10,000 jobs (~1 min on an idle 2-core machine, ~1.5 min under load).
// `node --import tsx scripts/load.ts` runs the same path and prints a table.
const jobs = 10_000;

describe('chaos: load', () => {
  it(`${jobs} jobs via the API, 4 worker processes, API faults on: each accounted for exactly once; worker RSS stays flat`, async () => {
    const r = await runLoad({ jobs, workers: 4, redisUrl: inject('redisUrl') });
    console.log(
      `load: ${r.jobs} jobs in ${r.runSeconds.toFixed(1)} s (${r.jobsPerSecond.toFixed(0)}/s), ${r.apiCalls} API calls, ` +
        `RSS growth ${r.rssGrowth.map((g) => g.toFixed(2)).join(' ')}`,
    );
    expect(r.unaccounted).toEqual([]);
    expect(r.completed + r.failed).toBe(jobs);
    // Each job counted once over all workers' /metrics: no job finished twice anywhere.
    expect(r.jobsCounted).toBe(jobs);
    // Faults happened and were retried: more calls than jobs.
    expect(r.faults.overloaded + r.faults.apiErrors + r.faults.drops).toBeGreaterThan(0);
    expect(r.apiCalls).toBeGreaterThan(jobs);
    for (const [i, samples] of r.rss.entries()) {
      expect(samples.length, `worker ${i + 1} RSS samples`).toBeGreaterThanOrEqual(10);
      // Last quarter within +30 % of the first quarter after warm-up.
      expect(r.rssGrowth[i], `worker ${i + 1} RSS growth`).toBeLessThan(1.3);
    }
  }, 420_000);
});
