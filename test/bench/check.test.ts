import { describe, expect, it } from 'vitest';
import { checkPipeline, checkResult } from '../../scripts/bench/check.js';
import type { RunResult } from '../../scripts/bench/measure.js';
import type { PipelineRun } from '../../scripts/bench/pipeline.js';

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
      /2 jobs failed[\s\S]*share of ideal 0\.900 < 0\.97[\s\S]*429 share 5\.0% > 1\.0%/,
    );
  });

  it('--quick checks at loose thresholds: start-up noise passes, a gross regression does not', () => {
    expect(checkResult('S6', result({ throughputShare: 0.7, rateLimitedShare: 0.08 }), true)).toEqual([]);
    expect(checkResult('S6', result({ throughputShare: 0.45 }), true)).toEqual([
      'share of ideal 0.450 < 0.54',
    ]);
    expect(checkResult('S5', result({ smallTenantP95Ms: 17_000 }), true)).toHaveLength(1);
    // Quick S5: half of FIFO's wait at the run's pace (elapsed − 1 s), from both sides. FIFO fails
    // it at full speed (4.2 s: about 3.2 s of wait) and at 0.6 of it (7 s: about 6 s).
    expect(checkResult('S5', result({ elapsedS: 4.2, smallTenantP95Ms: 1_600 }), true)).toEqual([]);
    expect(checkResult('S5', result({ elapsedS: 4.2, smallTenantP95Ms: 1_601 }), true)).toEqual([
      'interactive p95 1601 ms > 1600 ms',
    ]);
    expect(checkResult('S5', result({ elapsedS: 4.2, smallTenantP95Ms: 3_100 }), true)).toHaveLength(1);
    expect(checkResult('S5', result({ elapsedS: 7, smallTenantP95Ms: 5_800 }), true)).toHaveLength(1);
  });
});

describe('bench --check, S10/S11', () => {
  const run = (kind: 'plain' | 'promptq', processes: number, jobsPerS: number, commands: number) =>
    ({
      kind,
      processes,
      jobs: 100,
      completed: 100,
      failed: 0,
      elapsedS: 100 / jobsPerS,
      jobsPerS,
      redis: { commands: commands * 100, calls: commands * 100, evalsha: 100, cpuS: 1 },
    }) as PipelineRun;

  it('S10: jobs/s ≥ 0.70 of plain in one process, commands/job ≤ 2× plain — each at the limit and one past', () => {
    const plain = [run('plain', 1, 500, 30), run('plain', 4, 800, 30)];
    expect(
      checkPipeline('S10', [...plain, run('promptq', 1, 350, 60), run('promptq', 4, 100, 60)], false),
    ).toEqual([]);
    expect(
      checkPipeline('S10', [...plain, run('promptq', 1, 345, 60), run('promptq', 4, 800, 60)], false),
    ).toEqual(['jobs/s promptq / plain (1 process) 0.690 < 0.70']);
    expect(
      checkPipeline('S10', [...plain, run('promptq', 1, 500, 60), run('promptq', 4, 800, 61)], false),
    ).toEqual(['Redis commands/job promptq / plain (4 processes) 2.033 > 2.00']);
    // The "before" (0.35, 103 against 33 commands) misses both, even at --quick's loose thresholds.
    const before = [run('plain', 1, 500, 33), run('promptq', 1, 175, 103)];
    expect(checkPipeline('S10', before, false)).toHaveLength(2);
    expect(checkPipeline('S10', before, true)).toHaveLength(2);
    expect(checkPipeline('S10', [run('plain', 1, 500, 33), run('promptq', 1, 250, 90)], true)).toEqual([]);
  });

  it('S10/S11: a failed or unfinished job is a miss; S10 without both pipelines cannot pass', () => {
    expect(checkPipeline('S11', [run('promptq', 16, 100, 100)], false)).toEqual([]);
    expect(
      checkPipeline('S11', [{ ...run('promptq', 16, 100, 100), failed: 1, completed: 98 }], false),
    ).toEqual(['promptq ×16: 1 jobs failed, 1 unfinished (target 0)']);
    expect(checkPipeline('S10', [run('promptq', 1, 500, 30)], false)).toEqual([
      'no one-process runs of both pipelines to compare',
    ]);
  });
});
