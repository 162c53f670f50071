/**
 * The benchmark scenarios (issue 3): limits the simulator enforces, the workload, and how to derive
 * the ideal run time from those limits. Job counts are the defaults of `npm run bench`; `--quick`
 * and `--jobs` scale them.
 */

import type { Limits } from '../../packages/anthropic-simulator/src/index.js';
import { estimateSimTokens } from '../../packages/anthropic-simulator/src/index.js';
import { seededRng } from '../../packages/anthropic-simulator/src/seeded-rng.js';
import { defaults } from '../../src/core/defaults.js';
import { modelGroup } from '../../src/core/models.js';
import type { Resource } from '../../src/core/rate-limits.js';
import type { BenchJob } from './types.js';

export const scenarioIds = [
  'S1',
  'S2',
  'S3',
  'S4',
  'S5',
  'S6',
  'S7',
  'S8',
  'S9',
  'S12',
  'S13',
  'S14',
  'S15',
] as const;
export type ScenarioId = (typeof scenarioIds)[number];

/**
 * The conditions the limiter lab finds hardest (docs/limiter-lab.md), as real-time scenarios: a
 * `--quick` run (the CI smoke step) leaves them out unless named, as it does S10/S11.
 */
export const hardScenarioIds = ['S13', 'S14', 'S15'] as const satisfies readonly ScenarioId[];

/** The binding resource: requests, input tokens, or output tokens. */
export type Binding = Resource;

/** Another service that starts using the same key mid-run (S4). */
export interface Competitor {
  /** When it starts, in ms after the run starts. */
  atMs: number;
  /** Its steady request rate (requests per minute), taken out of the account's allowance. */
  rpm: number;
}

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** What the simulator enforces (and announces); every bucket starts empty. */
  limits: Limits;
  /** The hidden 1-second guard (Anthropic may enforce 60 RPM as 1 request per second); 0 = off. */
  shortIntervalSeconds: number;
  binding: Binding;
  /** Worker processes sharing the account. */
  workers: number;
  /** In-flight calls per worker, the same for every approach (but promptq's with `adaptiveConcurrency`). */
  concurrency: number;
  /** promptq's worker processes size their own slots (its concurrency tuner; S12). @defaultValue false */
  adaptiveConcurrency?: boolean;
  competitor?: Competitor;
  /** The simulator sends `anthropic-ratelimit-*` headers (S6: it does not). @defaultValue true */
  rateLimitHeaders?: boolean;
  /** Per model group limits over `limits` (S9: two families, each with its own allowance). */
  groupLimits?: Record<string, Partial<Limits>>;
  /** What the headers claim instead of `limits` (S7: a key shared with a service nobody sees). */
  announced?: Partial<Limits>;
  /** The simulator's delay before every answer, ms (S12: calls of seconds). @defaultValue 0 */
  latencyMs?: number;
  /**
   * Real outputs as shares of `max_tokens` (the simulator's output distribution, uniform between
   * the two; no cap). Where output tokens bind, the ideal counts the outputs the simulator served.
   * @defaultValue the simulator's own (short answers)
   */
  output?: { minFraction: number; maxFraction: number };
  jobs: BenchJob[];
}

export interface ScenarioSize {
  /** Main job count (S5: the big tenant's backlog). */
  jobs: number;
  quick: boolean;
}

const model = 'claude-haiku-4-5';
/** Short answers: the benchmark measures admission, not generation speed. */
const maxTokens = 32;
/** Generous limits for the resources a scenario does not bind on (headers still report them). */
const plentyTokens = { itpm: 4_000_000, otpm: 1_000_000 };

/** A deterministic PRNG, so every approach gets the very same workload. */
const rng = seededRng;

const words = ['queue', 'token', 'bucket', 'limit', 'worker', 'prompt', 'stream', 'answer', 'retry', 'model'];

/** A prompt of about `tokens` simulator tokens (one short word is one token). */
function promptOf(tokens: number, next: () => number): string {
  const out: string[] = [];
  for (let i = 0; i < tokens; i++) out.push(words[Math.floor(next() * words.length)] ?? 'token');
  return out.join(' ');
}

function job(
  id: string,
  prompt: string,
  enqueueAtMs: number,
  tenant?: string,
  jobModel = model,
  jobMaxTokens = maxTokens,
): BenchJob {
  const body = {
    model: jobModel,
    max_tokens: jobMaxTokens,
    prompt,
    ...(tenant !== undefined ? { tenant_id: tenant } : {}),
  };
  const inputTokens = estimateSimTokens({ messages: [{ role: 'user', content: prompt }] });
  return { id, tenant, enqueueAtMs, body, inputTokens };
}

export function uniformJobs(
  prefix: string,
  n: number,
  tokens: number,
  seed: number,
  jobMaxTokens = maxTokens,
): BenchJob[] {
  const next = rng(seed);
  return Array.from({ length: n }, (_, i) =>
    job(`${prefix}-${i}`, promptOf(tokens, next), 0, undefined, model, jobMaxTokens),
  );
}

/**
 * Output-token-bound at a low tier (S13, S14): 60,000 OTPM (1,000 a second), `max_tokens` 2,000 —
 * two seconds of OTPM refill, charged at admission and corrected at the end — and real outputs
 * 40–60% of it, so about one call a second fits.
 */
const otpmBound = {
  limits: { rpm: 1_000, itpm: 4_000_000, otpm: 60_000 },
  binding: 'output_tokens' as const,
  output: { minFraction: 0.4, maxFraction: 0.6 },
  maxTokens: 2_000,
};

/** What every scenario has unless it says otherwise. */
const base = { workers: 1, concurrency: 20, shortIntervalSeconds: 0 };

/** A scenario as its builder describes it: {@link base} fills in the rest. */
type ScenarioParts = Omit<Scenario, 'id' | keyof typeof base> & Partial<Pick<Scenario, keyof typeof base>>;

/** Each scenario's limits and workload for `n` main jobs. */
const builders: Record<ScenarioId, (n: number, size: ScenarioSize) => ScenarioParts> = {
  S1: (n) => ({
    title: 'request-bound, 1 worker, 1-second short-interval guard on',
    limits: { rpm: 600, ...plentyTokens },
    shortIntervalSeconds: 1,
    binding: 'requests',
    jobs: uniformJobs('s1', n, 40, 1),
  }),
  S2: (n) => {
    // Sizes log-uniform over 150..3000 tokens (20x); input tokens bind at 10k/s.
    const next = rng(2);
    const jobs = Array.from({ length: n }, (_, i) =>
      job(`s2-${i}`, promptOf(Math.round(150 * 20 ** next()), next), 0),
    );
    return {
      title: 'input-token-bound, prompt sizes differ 20x (150..3000 tokens)',
      limits: { rpm: 6_000, itpm: 600_000, otpm: 1_000_000 },
      binding: 'input_tokens',
      jobs,
    };
  },
  S3: (n) => ({
    title: '4 worker processes sharing one limit (request-bound)',
    limits: { rpm: 600, ...plentyTokens },
    binding: 'requests',
    workers: 4,
    jobs: uniformJobs('s3', n, 40, 3),
  }),
  S4: (n) => ({
    title: 'the allowance halves mid-run (another service starts using the key)',
    limits: { rpm: 600, ...plentyTokens },
    binding: 'requests',
    // Another service starts using half the key's requests once a quarter of the jobs could be
    // done, leaving the larger part of the run (and the window from drop + 10 s) after the drop.
    competitor: { atMs: n * 25, rpm: 300 },
    jobs: uniformJobs('s4', n, 40, 4),
  }),
  S5: (n, size) => {
    // Tenant "backfill" enqueues the backlog; tenant "interactive" adds 20 jobs once it drains.
    const next = rng(5);
    const big = Array.from({ length: n }, (_, i) => job(`s5-big-${i}`, promptOf(40, next), 0, 'backfill'));
    const smallAt = size.quick ? 1_000 : 3_000;
    const small = Array.from({ length: 20 }, (_, i) =>
      job(`s5-small-${i}`, promptOf(40, next), smallAt, 'interactive'),
    );
    return {
      title: `two tenants: ${n} backfill jobs, then 20 interactive ones`,
      limits: { rpm: 6_000, ...plentyTokens },
      binding: 'requests',
      jobs: [...big, ...small],
    };
  },
  S6: (n) => ({
    title: 'no rate-limit headers (a gateway in between), request-bound',
    limits: { rpm: 600, ...plentyTokens },
    rateLimitHeaders: false,
    binding: 'requests',
    jobs: uniformJobs('s6', n, 40, 6),
  }),
  S7: (n) => ({
    title: 'the headers overstate the limit ×2 (the key is shared with a service nobody sees)',
    limits: { rpm: 600, ...plentyTokens },
    announced: { rpm: 1_200 },
    binding: 'requests',
    jobs: uniformJobs('s7', n, 40, 7),
  }),
  S8: (n) => {
    // Every job shares a 5,000-token system prompt marked for caching (above Haiku 4.5's 4,096-token
    // minimum); only its 40-token question differs. Cache reads do not count toward ITPM, so at
    // 600,000 ITPM the run is request-bound — unless a client counts the cached prompt every time
    // (5,040 tokens × 10 requests/s would need 3,000,000 ITPM). The first request (the cache
    // write) waits about half a second for ITPM refill.
    const next = rng(8);
    const system = [{ type: 'text', text: promptOf(5_000, next), cache_control: { type: 'ephemeral' } }];
    const jobs = Array.from({ length: n }, (_, i) => {
      const j = job(`s8-${i}`, promptOf(40, next), 0);
      return { ...j, body: { ...j.body, system } };
    });
    return {
      title: 'prompt caching: a 5,000-token cached system prompt shared by every job',
      limits: { rpm: 600, itpm: 600_000, otpm: 1_000_000 },
      binding: 'requests',
      jobs,
    };
  },
  S9: (n) => {
    // Two thirds Haiku at 600 RPM, one third Sonnet at 300 RPM, interleaved: both families take
    // the same ideal time, so the run is ideal only when both allowances are used at once.
    const next = rng(9);
    const jobs = Array.from({ length: n }, (_, i) =>
      job(`s9-${i}`, promptOf(40, next), 0, undefined, i % 3 === 2 ? 'claude-sonnet-4-6' : model),
    );
    return {
      title: 'two model families with separate limits, jobs of both in one queue',
      limits: { rpm: 600, ...plentyTokens },
      groupLimits: { sonnet: { rpm: 300 } },
      binding: 'requests',
      jobs,
    };
  },
  S12: (n) => ({
    // Scale tier: 10,000 RPM, and every call takes 2.5 s, so the allowance needs about 420 calls in
    // flight at once, spread over 4 worker processes (150 slots each for the others; promptq's
    // processes size their own from their share of the account, as with no PROMPTQ_CONCURRENCY).
    title: 'Scale tier: 10,000 RPM, 2.5-s calls, hundreds in flight over 4 processes',
    limits: { rpm: 10_000, itpm: 10_000_000, otpm: 2_000_000 },
    binding: 'requests',
    workers: 4,
    concurrency: 150,
    adaptiveConcurrency: true,
    latencyMs: 2_500,
    jobs: uniformJobs('s12', n, 40, 12),
  }),
  // The lab's hardest families that the simulator can stage (its `speed: "fast"` buckets it cannot).
  S13: (n) => ({
    title:
      'headers understate the limit (×0.6), output-token-bound, max_tokens 2 s of OTPM, outputs 40–60% of it',
    limits: otpmBound.limits,
    announced: { otpm: 36_000 },
    binding: otpmBound.binding,
    output: otpmBound.output,
    jobs: uniformJobs('s13', n, 40, 13, otpmBound.maxTokens),
  }),
  S14: (n) => ({
    title: 'no rate-limit headers, output-token-bound, max_tokens 2 s of OTPM, outputs 40–60% of it',
    limits: otpmBound.limits,
    rateLimitHeaders: false,
    binding: otpmBound.binding,
    output: otpmBound.output,
    jobs: uniformJobs('s14', n, 40, 14, otpmBound.maxTokens),
  }),
  S15: (n) => ({
    title: 'no rate-limit headers, the per-minute limit enforced over 1-second windows (request-bound)',
    limits: { rpm: 600, ...plentyTokens },
    shortIntervalSeconds: 1,
    rateLimitHeaders: false,
    binding: 'requests',
    jobs: uniformJobs('s15', n, 40, 15),
  }),
};

/** Builds a scenario's limits and workload; `size.jobs` scales it. */
export function buildScenario(id: ScenarioId, size: ScenarioSize): Scenario {
  return { ...base, id, ...builders[id](size.jobs, size) };
}

/** Default main job counts (full run, `--quick`). */
export const defaultJobs: Record<ScenarioId, { full: number; quick: number }> = {
  S1: { full: 200, quick: 40 },
  S2: { full: 200, quick: 40 },
  S3: { full: 200, quick: 40 },
  S4: { full: 160, quick: 80 },
  S5: { full: 2_000, quick: 400 },
  S6: { full: 300, quick: 100 },
  S7: { full: 300, quick: 100 },
  S8: { full: 300, quick: 100 },
  S9: { full: 300, quick: 120 },
  S12: { full: 12_000, quick: 2_000 },
  S13: { full: 60, quick: 20 },
  S14: { full: 60, quick: 20 },
  S15: { full: 300, quick: 100 },
};

/** Units of the binding resource per second the simulator admits. */
export function bindingRate(s: Scenario): number {
  const perMinute = { requests: s.limits.rpm, input_tokens: s.limits.itpm, output_tokens: s.limits.otpm };
  return perMinute[s.binding] / 60;
}

/** The mean real output as a share of `max_tokens` (where output tokens bind). */
const meanOutputShare = (s: Scenario) => (s.output ? (s.output.minFraction + s.output.maxFraction) / 2 : 1);

/** The scenario as one model group sees it: that group's limits and jobs. */
function groupView(s: Scenario, group: string, jobs: readonly BenchJob[]): [Scenario, BenchJob[]] {
  const limits = { ...s.limits, ...s.groupLimits?.[group] };
  return [{ ...s, limits, groupLimits: undefined }, jobs.filter((j) => modelGroup(j.body.model) === group)];
}

/**
 * What one job costs of the binding resource, as known before the run: output tokens at the
 * output distribution's mean (the run's own ideal counts what the simulator served, measure.ts).
 */
export function bindingCost(s: Scenario, j: BenchJob): number {
  if (s.binding === 'output_tokens') return j.body.max_tokens * meanOutputShare(s);
  return s.binding === 'requests' ? 1 : j.inputTokens;
}

/**
 * Output-bound: seconds an ideal client needs to be served `outputTokens` of the jobs' output. Every
 * call is charged its `max_tokens` at admission and given back the unused part at its end, so the
 * last call also waits for the part of its `max_tokens` it will not use (at the mean output share).
 */
export function outputIdealSeconds(s: Scenario, outputTokens: number, jobMaxTokens: number): number {
  const lastUnused = jobMaxTokens * (1 - meanOutputShare(s));
  return (outputTokens + lastUnused) / bindingRate(s) + (s.latencyMs ?? 0) / 1000;
}

/**
 * Seconds an ideal client needs for `jobs` (buckets start empty, so every unit waits for refill):
 * their total cost over the rate, with the competitor's share taken out once it starts.
 */
export function idealSeconds(s: Scenario, jobs: readonly BenchJob[]): number {
  // The last call admitted at the ideal moment still takes the simulator's latency to answer.
  if (s.latencyMs) return idealSeconds({ ...s, latencyMs: 0 }, jobs) + s.latencyMs / 1000;
  if (s.groupLimits) {
    // Separate allowances: the slowest group's own ideal.
    const groups = new Set(jobs.map((j) => modelGroup(j.body.model)));
    return Math.max(...[...groups].map((g) => idealSeconds(...groupView(s, g, jobs))));
  }
  const total = jobs.reduce((n, j) => n + bindingCost(s, j), 0);
  const rate = bindingRate(s);
  const c = s.competitor;
  if (!c) return total / rate;
  const before = (rate * c.atMs) / 1000;
  if (total <= before) return total / rate;
  const after = rate - bindingRateOf(s, c.rpm);
  return c.atMs / 1000 + (total - before) / after;
}

function bindingRateOf(s: Scenario, rpm: number): number {
  // The competitor sends requests; in a request-bound scenario each one is a unit.
  return s.binding === 'requests' ? rpm / 60 : 0;
}

/** The true limit expressed as jobs per second. */
export function jobsPerSecond(s: Scenario): number {
  return s.jobs.length / idealSeconds({ ...s, competitor: undefined, latencyMs: 0 }, s.jobs);
}

/**
 * The share of the true limit every approach aims at: promptq's own target utilisation, given to
 * the static limiters too (a careful user leaves the same headroom).
 */
export const targetShare = defaults.limiter.tuning.target;

/** What a careful user gives a count-based limiter: the target share of the true limit, jobs/s. */
export function staticJobsPerSecond(s: Scenario): number {
  return jobsPerSecond(s) * targetShare;
}

/**
 * S9 (separate limits per model family): the static rate of each family's own limiter, jobs/s;
 * undefined when the whole account shares one limit.
 */
export function staticGroupJobsPerSecond(s: Scenario): Record<string, number> | undefined {
  if (!s.groupLimits) return undefined;
  const groups = new Set(s.jobs.map((j) => modelGroup(j.body.model)));
  return Object.fromEntries(
    [...groups].map((g) => {
      const [view, jobs] = groupView(s, g, s.jobs);
      return [g, (jobs.length / idealSeconds(view, jobs)) * targetShare];
    }),
  );
}
