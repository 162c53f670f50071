import { describe, expect, it } from 'vitest';
import { checkResult } from '../../scripts/bench/check.js';
import type { RunResult } from '../../scripts/bench/measure.js';

const result = (over: Partial<RunResult>): RunResult =>
  ({ failed: 0, unfinished: 0, throughputShare: 0.98, rateLimitedShare: 0.005, ...over }) as RunResult;

describe('bench --check', () => {
  it('passes a run that meets the targets and names every miss of one that does not (the control)', () => {
    expect(checkResult('S1', result({}), false)).toEqual([]);
    const misses = checkResult(
      'S1',
      result({ failed: 2, throughputShare: 0.9, rateLimitedShare: 0.05 }),
      false,
    );
    expect(misses).toHaveLength(3);
    expect(misses.join('\n')).toMatch(
      /2 jobs failed[\s\S]*share of ideal 0\.90 < 0\.97[\s\S]*429 share 5\.0% > 1\.0%/,
    );
  });

  it('--quick checks at loose thresholds: start-up noise passes, a gross regression does not', () => {
    expect(checkResult('S6', result({ throughputShare: 0.7, rateLimitedShare: 0.08 }), true)).toEqual([]);
    expect(checkResult('S6', result({ throughputShare: 0.45 }), true)).toEqual([
      'share of ideal 0.45 < 0.54',
    ]);
    expect(checkResult('S5', result({ smallTenantP95Ms: 17_000 }), true)).toHaveLength(1);
  });
});
