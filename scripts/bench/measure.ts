/** Per-run numbers: from the runner's job outcomes and the simulator's ground-truth counters. */
import type { SimulatorStats } from '../../packages/anthropic-simulator/src/index.js';
import { quantile } from '../../src/core/stats.js';
import type { CompetitorCounts } from './competitor.js';
import { bindingRate, idealSeconds, outputIdealSeconds, type Scenario } from './scenarios.js';
import type { JobOutcome } from './types.js';

/** What the simulator served to the approach under test (the competitor's share taken out). */
export interface Served {
  requests: number;
  rateLimited: number;
}

export interface RunResult {
  approach: string;
  label: string;
  jobs: number;
  completed: number;
  failed: number;
  /** Neither completed nor failed when the run's deadline passed. */
  unfinished: number;
  /** Run start → last completed job, seconds. */
  elapsedS: number;
  /**
   * What an ideal client needs for the completed jobs, seconds (S4: sharing the account with what
   * the other service actually got, so the share cannot exceed 1 by starving the other service).
   */
  idealS: number;
  /** idealS / elapsedS; null when more than 5% of the jobs did not complete (not comparable). */
  throughputShare: number | null;
  served: Served;
  /** The simulator's own totals for the run (the other service included): ground truth for checks. */
  simulator: { requests: number; rateLimited: number; succeeded: number };
  /** Share of requests answered 429. */
  rateLimitedShare: number;
  /** Enqueue → finish of completed jobs, ms. */
  p50Ms: number | null;
  p95Ms: number | null;
  /**
   * S4: after the other service started. `throughputShare` is the completions from drop + 10 s to the
   * end over what the account allowed in that window minus what the other service got; the other
   * service's refusals (`otherRefused`) show whether the approach crowded it out.
   */
  afterDrop?: {
    served: Served;
    rateLimitedShare: number;
    throughputShare: number | null;
    otherRequests: number;
    otherRefused: number;
  };
  /**
   * Where calls take time (S12): the most calls the simulator had in flight at once (its own gauge),
   * against the calls in flight the allowance needs (rate × latency): whether slots or the limiter bind.
   */
  peakInFlight?: number;
  /** S5: enqueue → finish p95 of the interactive tenant's completed jobs, ms. */
  smallTenantP95Ms?: number | null;
  /**
   * The steady state: requests from `fromS` seconds into the run to its end (the start-up, when a
   * limiter is still learning, left out), and the share of them answered 429.
   */
  steady?: { fromS: number; served: Served; rateLimitedShare: number };
  /** How many rounds this row is the median of (absent: one run). */
  rounds?: number;
}

/**
 * When the steady state starts, ms after the run's start: a quarter of the ideal run time, and at
 * least 2 s (a limiter with no configuration learns the account in its first seconds).
 */
export function steadyFromMs(idealS: number): number {
  return Math.max(2_000, idealS * 250);
}

/** The simulator's totals minus what the competitor was answered. */
export function served(stats: SimulatorStats, competitor: CompetitorCounts | undefined): Served {
  return {
    requests: stats.requests - (competitor?.sent ?? 0),
    rateLimited: stats.rateLimited.total - (competitor?.rateLimited ?? 0),
  };
}

const share = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

export interface MeasureInput {
  approach: string;
  label: string;
  scenario: Scenario;
  outcomes: readonly JobOutcome[];
  t0: number;
  stats: SimulatorStats;
  served: Served;
  /** S4: what was served from the competitor's start on, when that was (epoch ms), and its own counts. */
  afterDrop?: { served: Served; at: number; competitor: CompetitorCounts };
  /** What was served from the steady state's start ({@link steadyFromMs}) to the end. */
  steady?: { served: Served; fromS: number };
}

const within = (times: readonly number[], from: number, to: number) =>
  times.filter((t) => t >= from && t <= to).length;

/**
 * Completions in [from, to] over the requests the account allowed in that window minus those the
 * other service got (request-bound).
 */
function windowShare(
  done: readonly number[],
  other: readonly number[],
  from: number,
  to: number,
  rate: number,
): number | null {
  if (to - from < 1000) return null;
  const left = (rate * (to - from)) / 1000 - within(other, from, to);
  return left > 0 ? within(done, from, to) / left : null;
}

/**
 * What an ideal client needs for the completed jobs, seconds. With another service on the key, the
 * account served both: their sum at the full rate (request-bound), so taking the other service's
 * share does not count as throughput. Where output tokens bind, the outputs the simulator served
 * (its own count, not the jobs' records), each call charged `max_tokens` until it ends.
 */
function idealOf(m: MeasureInput, ids: ReadonlySet<string>, completed: number, otherOk: number): number {
  const s = m.scenario;
  if (s.competitor && m.afterDrop) return (completed + otherOk) / bindingRate(s);
  const done = s.jobs.filter((j) => ids.has(j.id));
  if (s.binding !== 'output_tokens') return idealSeconds(s, done);
  const maxTokens = Math.max(0, ...done.map((j) => j.body.max_tokens));
  return outputIdealSeconds(s, m.stats.outputTokens, maxTokens);
}

export function measure(m: MeasureInput): RunResult {
  const { scenario: s, outcomes } = m;
  const completed = outcomes.filter((o) => o.ok && o.finishedAt !== null);
  const failed = outcomes.filter((o) => !o.ok && o.finishedAt !== null).length;
  const unfinished = s.jobs.length - completed.length - failed;
  const done = completed.map((o) => o.finishedAt!);
  const last = done.length > 0 ? Math.max(...done) : m.t0;
  const elapsedS = (last - m.t0) / 1000;
  const ids = new Set(completed.map((o) => o.id));
  const other = m.afterDrop?.competitor.okAt ?? [];
  const idealS = idealOf(m, ids, completed.length, within(other, m.t0, last));
  const comparable = completed.length >= 0.95 * s.jobs.length && elapsedS > 0;
  const latencies = completed.map((o) => o.finishedAt! - o.enqueuedAt);
  const result: RunResult = {
    approach: m.approach,
    label: m.label,
    jobs: s.jobs.length,
    completed: completed.length,
    failed,
    unfinished,
    elapsedS,
    idealS,
    throughputShare: comparable ? idealS / elapsedS : null,
    served: m.served,
    simulator: {
      requests: m.stats.requests,
      rateLimited: m.stats.rateLimited.total,
      succeeded: m.stats.succeeded,
    },
    rateLimitedShare: share(m.served.rateLimited, m.served.requests),
    p50Ms: quantile(latencies, 0.5),
    p95Ms: quantile(latencies, 0.95),
  };
  if (m.afterDrop && s.competitor) {
    result.afterDrop = {
      served: m.afterDrop.served,
      rateLimitedShare: share(m.afterDrop.served.rateLimited, m.afterDrop.served.requests),
      throughputShare: windowShare(done, other, m.afterDrop.at + 10_000, last, bindingRate(s)),
      otherRequests: m.afterDrop.competitor.sent,
      otherRefused: m.afterDrop.competitor.rateLimited,
    };
  }
  if (m.steady) {
    result.steady = {
      fromS: m.steady.fromS,
      served: m.steady.served,
      rateLimitedShare: share(m.steady.served.rateLimited, m.steady.served.requests),
    };
  }
  if (s.latencyMs) result.peakInFlight = m.stats.peakInFlight;
  if (s.id === 'S5') {
    result.smallTenantP95Ms = quantile(
      completed.filter((o) => o.tenant === 'interactive').map((o) => o.finishedAt! - o.enqueuedAt),
      0.95,
    );
  }
  return result;
}
