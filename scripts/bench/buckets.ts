/**
 * When a run's rate limits start. Every ideal of the bench (scenarios.ts) counts the allowance's
 * refill from the run's start, buckets empty then ("the key was in use a moment before"). The
 * simulator makes a group's buckets when that group's first request arrives (empty, with
 * `startEmpty`), so without this the refill started at the first request instead: whatever delay
 * there is from the run's start to the first request (a worker's pickup under load: 0.3–0.5 s)
 * was missing from the allowance, and the first request always met an empty bucket and a 429
 * whose `retry-after` (whole seconds) cost every client a further second. On a 4-s ideal (the
 * `--quick` S1, S2) that was 0.55–0.6 of ideal for any client.
 */
import type { Simulator } from '../../packages/anthropic-simulator/src/index.js';
import { defaultGroupOf } from '../../packages/anthropic-simulator/src/models.js';
import type { BenchJob } from './types.js';

/** Makes the buckets of every model group `jobs` use now (empty with `startEmpty`, refilling from now). */
export function openBuckets(
  sim: Pick<Simulator, 'setLimits'>,
  jobs: readonly { body: Pick<BenchJob['body'], 'model'> }[],
): void {
  // setLimits with nothing changed makes a group's buckets if it has none yet, and keeps them as
  // they are otherwise (usage already consumed stays consumed).
  for (const group of new Set(jobs.map((j) => defaultGroupOf(j.body.model)))) sim.setLimits({}, group);
}
