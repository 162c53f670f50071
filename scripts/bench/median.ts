/**
 * The median of a scenario's rounds for one approach: each figure is its own median over the rounds
 * (a run's share, 429 share and latencies are not taken from one lucky round), and a failed or
 * unfinished job in any round counts (the worst round's), since no job may ever fail.
 */
import type { RunResult } from './measure.js';

/** The median of the finite numbers; null when fewer than half of `xs` are numbers. */
export function medianOf(xs: ReadonlyArray<number | null | undefined>): number | null {
  const nums = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (nums.length === 0 || nums.length * 2 < xs.length) return null;
  const sorted = [...nums].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const med = (rs: readonly RunResult[], pick: (r: RunResult) => number | null | undefined) =>
  medianOf(rs.map(pick));
const medN = (rs: readonly RunResult[], pick: (r: RunResult) => number | null | undefined) =>
  med(rs, pick) ?? 0;

/** One row standing for `rounds` runs of the same approach on the same scenario. */
export function medianResult(rounds: readonly RunResult[]): RunResult {
  const first = rounds[0];
  if (!first) throw new Error('medianResult: no rounds');
  if (rounds.length === 1) return first;
  const worst = rounds.reduce((a, b) => (b.failed + b.unfinished > a.failed + a.unfinished ? b : a));
  const result: RunResult = {
    ...first,
    completed: worst.completed,
    failed: worst.failed,
    unfinished: worst.unfinished,
    elapsedS: medN(rounds, (r) => r.elapsedS),
    idealS: medN(rounds, (r) => r.idealS),
    throughputShare: med(rounds, (r) => r.throughputShare),
    served: {
      requests: Math.round(medN(rounds, (r) => r.served.requests)),
      rateLimited: Math.round(medN(rounds, (r) => r.served.rateLimited)),
    },
    rateLimitedShare: medN(rounds, (r) => r.rateLimitedShare),
    p50Ms: med(rounds, (r) => r.p50Ms),
    p95Ms: med(rounds, (r) => r.p95Ms),
    rounds: rounds.length,
  };
  if (first.steady) {
    result.steady = {
      fromS: medN(rounds, (r) => r.steady?.fromS),
      served: {
        requests: Math.round(medN(rounds, (r) => r.steady?.served.requests)),
        rateLimited: Math.round(medN(rounds, (r) => r.steady?.served.rateLimited)),
      },
      rateLimitedShare: medN(rounds, (r) => r.steady?.rateLimitedShare),
    };
  }
  if (first.afterDrop) {
    result.afterDrop = {
      ...first.afterDrop,
      rateLimitedShare: medN(rounds, (r) => r.afterDrop?.rateLimitedShare),
      throughputShare: med(rounds, (r) => r.afterDrop?.throughputShare),
      otherRefused: Math.round(medN(rounds, (r) => r.afterDrop?.otherRefused)),
      otherRequests: Math.round(medN(rounds, (r) => r.afterDrop?.otherRequests)),
    };
  }
  if (first.peakInFlight !== undefined) result.peakInFlight = Math.round(medN(rounds, (r) => r.peakInFlight));
  if (first.smallTenantP95Ms !== undefined) result.smallTenantP95Ms = med(rounds, (r) => r.smallTenantP95Ms);
  return result;
}
