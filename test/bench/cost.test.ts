import { describe, expect, it } from 'vitest';
import { type CostJob, floorOf, percentile, workload } from '../../scripts/bench/cost-workload.js';

/** The cost bench's floor (scripts/bench/cost-workload.ts) against list prices written by hand. */
describe('cost bench floor', () => {
  // claude-sonnet-4-6: $3 input, $15 output per million tokens; a 5-minute write 1.25× input, a read
  // 0.1× input; the Batches API half of everything.
  const job = (id: string, group: number, interactive: boolean): CostJob => ({
    id,
    arrivesAtMs: 0,
    interactive,
    group,
    deadline: interactive ? undefined : '6h',
    body: {},
  });
  const served = (prefix: number, read: boolean) => ({
    input_tokens: 100,
    output_tokens: 1000,
    cache_creation_input_tokens: read ? 0 : prefix,
    cache_read_input_tokens: read ? prefix : 0,
  });

  it('writes each prefix once (live when the group has an interactive job), reads it at each job’s route price', () => {
    // Group 0: a deferrable job arrives first, then an interactive one: the interactive job writes
    // (live), the deferrable one reads at the Batches price, whatever the naive run paid.
    const jobs = [job('a', 0, false), job('b', 0, true), job('c', 1, false), job('d', 1, false)];
    const byJob = new Map([
      ['a', served(10_000, false)],
      ['b', served(10_000, false)],
      ['c', served(20_000, false)],
      ['d', served(20_000, true)],
    ]);
    const M = 1e6;
    const rest = (batch: boolean) => ((100 * 3 + 1000 * 15) / M) * (batch ? 0.5 : 1);
    const expected =
      rest(false) +
      (10_000 * 3 * 1.25) / M + // b: live, writes
      rest(true) +
      (10_000 * 3 * 0.1 * 0.5) / M + // a: batch, reads
      rest(true) +
      (20_000 * 3 * 1.25 * 0.5) / M + // c: batch, writes (no interactive job in group 1)
      rest(true) +
      (20_000 * 3 * 0.1 * 0.5) / M; // d: batch, reads
    expect(floorOf(jobs, byJob)).toBeCloseTo(expected, 9);
  });

  it('a job the naive run was not served is an error, not a zero', () => {
    expect(() => floorOf([job('a', 0, true)], new Map())).toThrow(/no answer for a/);
  });

  it('the workload is a fifth interactive, the rest with deadlines, in arrival order, the same for a seed', () => {
    const w = workload({ jobs: 50, groups: 4, seconds: 10, seed: 7 });
    expect(w.filter((j) => j.interactive)).toHaveLength(10);
    expect(w.filter((j) => !j.interactive).every((j) => j.deadline !== undefined)).toBe(true);
    expect(w.map((j) => j.arrivesAtMs)).toEqual([...w.map((j) => j.arrivesAtMs)].sort((a, b) => a - b));
    expect(workload({ jobs: 50, groups: 4, seconds: 10, seed: 7 })).toEqual(w);
    expect(percentile([5, 1, 4, 2, 3], 95)).toBe(5);
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
  });
});
