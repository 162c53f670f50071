/**
 * The lab's conditions: an API (its limits, windows, headers, faults; api-model.ts) and a workload
 * (requests, worker processes, how long). `matrix(seed, n)` draws n of them from the space Anthropic
 * accounts live in — tier 1 to Scale tier, 1-4 model families, `max_tokens` up to 32k, real outputs
 * 5-100% of it — each replayable by its id `SEED:K`; four named conditions are added to every run.
 */
import type { ApiRequest, ApiSpec, FamilySpec, HeaderMode, Limits } from './api-model.js';
import { Rng } from './rng.js';

/** The workload's requests, per family. */
export interface Workload {
  /** Real prompt tokens: log-uniform in [lo, hi]. */
  input: [number, number];
  /** Share of the prompt that is a cacheable prefix (0: none), and how many distinct prefixes. */
  prefixShare: number;
  prefixes: number;
  maxTokens: number;
  /** Real output = maxTokens × uniform in [lo, hi] (0.05-1). */
  outFrac: [number, number];
  /** promptq's local input estimate = real × this (its tokenizer's bias). */
  estimateBias: number;
  /** Share of a family's calls made with `speed: "fast"` (only where the family has a fast bucket). */
  fastShare: number;
}

export interface Condition {
  /** `SEED:K`, or a name. */
  id: string;
  seed: number;
  index: number;
  api: ApiSpec;
  workload: Workload[];
  /** Worker processes (RateLimiter instances sharing one Redis). */
  processes: number;
  /** Worker slots per process and family (enough that demand never binds). */
  slots: number[];
  durationMs: number;
  /** Calls the ideal client would make in `durationMs` (sets the harness's step budget). */
  expectedCalls: number;
  /** Measured from here: the first seconds are the limiter finding the limits. */
  warmupMs: number;
}

export const tiers: Record<string, Limits> = {
  tier1: { requests: 50, input_tokens: 30_000, output_tokens: 8_000 },
  tier2: { requests: 1_000, input_tokens: 450_000, output_tokens: 90_000 },
  tier3: { requests: 2_000, input_tokens: 800_000, output_tokens: 160_000 },
  tier4: { requests: 4_000, input_tokens: 2_000_000, output_tokens: 400_000 },
  scale: { requests: 10_000, input_tokens: 10_000_000, output_tokens: 2_000_000 },
};

/**
 * Family f's model names: real ids of four distinct families, so that each family of the model is
 * also a model group of promptq's (sonnet, haiku, opus, fable) — the lab measures the limiter, not
 * a naming mismatch. The older ids of haiku and opus are the ones whose cache reads count toward ITPM.
 */
export const familyModels: { model: string; cacheReadsCount: boolean }[][] = [
  [{ model: 'claude-sonnet-4-5', cacheReadsCount: false }],
  [
    { model: 'claude-haiku-4-5', cacheReadsCount: false },
    { model: 'claude-3-5-haiku-20241022', cacheReadsCount: true },
  ],
  [
    { model: 'claude-opus-4-1', cacheReadsCount: false },
    { model: 'claude-3-opus-20240229', cacheReadsCount: true },
  ],
  [{ model: 'claude-fable-5', cacheReadsCount: false }],
];

/** The matrix's fixed seed: the same 1,000 conditions in every run. */
export const FIXED_SEED = 22_022;

/** How many calls a condition aims at (its duration follows), and its bounds. */
export const sizing = { calls: 100, minMs: 8_000, maxMs: 1_800_000, maxCalls: 400 };

/** A family's limits at the account's tier (families of one account differ, within its tier). */
function drawLimits(rng: Rng, base: Limits): Limits {
  const j = () => rng.logBetween(0.6, 1.6);
  return {
    requests: Math.max(5, Math.round(base.requests * j())),
    input_tokens: Math.round(base.input_tokens * j()),
    output_tokens: Math.round(base.output_tokens * j()),
  };
}

function drawWorkload(rng: Rng, limits: Limits, fast: boolean): Workload {
  const cached = rng.chance(0.2);
  // A prompt is at most 10 s of input refill uncached, 30 s when most of it is a cached prefix.
  const inputCap = Math.max(200, (limits.input_tokens * (cached ? 0.5 : 1 / 6)) | 0);
  const hi = Math.min(inputCap, Math.round(rng.logBetween(200, cached ? 100_000 : 20_000)));
  const lo = Math.max(20, Math.round(hi * rng.between(0.2, 1)));
  const maxTokens = Math.max(16, Math.min(32_000, Math.round(limits.output_tokens / 4), rng.int(64, 32_000)));
  const outLo = rng.between(0.05, 1);
  return {
    input: [lo, hi],
    prefixShare: cached ? rng.between(0.7, 0.98) : 0,
    prefixes: cached ? rng.int(1, 3) : 0,
    maxTokens: Math.round(rng.chance(0.5) ? maxTokens : Math.max(16, maxTokens * rng.between(0.05, 1))),
    outFrac: [outLo, Math.min(1, outLo + rng.between(0, 0.4))],
    estimateBias: rng.between(0.75, 1.35),
    fastShare: fast ? rng.between(0.1, 0.5) : 0,
  };
}

function drawHeaders(rng: Rng): { mode: HeaderMode; scale: number } {
  const u = rng.float();
  if (u < 0.4) return { mode: 'present', scale: 1 };
  if (u < 0.6) return { mode: 'absent', scale: 1 };
  if (u < 0.73) return { mode: 'overstate', scale: rng.between(1.5, 3) };
  if (u < 0.86) return { mode: 'understate', scale: rng.between(0.4, 0.9) };
  return { mode: 'rounded', scale: 1 };
}

/** Condition K of the matrix drawn with `seed`. */
export function drawCondition(seed: number, index: number): Condition {
  const rng = Rng.of(seed, index, 0x1ab);
  const nFamilies = rng.pick([1, 1, 1, 2, 2, 3, 4]);
  const families: FamilySpec[] = [];
  const workload: Workload[] = [];
  const fastFamily = rng.chance(0.15) ? rng.int(0, nFamilies - 1) : -1;
  const tier = tiers[rng.pick(Object.keys(tiers))] as Limits;
  for (let f = 0; f < nFamilies; f++) {
    const limits = drawLimits(rng, tier);
    const m = rng.pick(familyModels[f] ?? []);
    const fast = f === fastFamily;
    const fastLimits = fast ? scaleLimits(limits, rng.between(0.2, 1)) : undefined;
    const w = drawWorkload(rng, limits, fast);
    const minBucket = { requests: 1, input_tokens: w.input[1] + 1, output_tokens: w.maxTokens };
    families.push({
      model: m.model,
      limits,
      fast: fastLimits,
      cacheReadsCount: m.cacheReadsCount,
      minBucket,
    });
    workload.push(w);
  }
  const api: ApiSpec = {
    families,
    windowS: rng.pick([1, 1, 2, 5, 10, 20, 30, 60]),
    headers: drawHeaders(rng),
    otherUser: rng.chance(0.2) ? rng.between(0.1, 0.5) : 0,
    overload: [],
    latency: {
      ttftMs: rng.logBetween(150, 3000),
      sigma: rng.between(0.2, 1.2),
      tokensPerS: rng.logBetween(30, 200),
    },
  };
  return finish(
    { id: `${seed}:${index}`, seed, index, api, workload, processes: rng.pick([1, 1, 2, 2, 3, 4, 6, 8]) },
    rng,
  );
}

function scaleLimits(l: Limits, k: number): Limits {
  return {
    requests: Math.max(5, Math.round(l.requests * k)),
    input_tokens: Math.round(l.input_tokens * k),
    output_tokens: Math.round(l.output_tokens * k),
  };
}

/** Mean of a log-uniform draw in [lo, hi]. */
function logMean([lo, hi]: [number, number]): number {
  return hi === lo ? lo : (hi - lo) / Math.log(hi / lo);
}

/** Calls per second a perfect client makes of family f (its binding resource), and their mean latency. */
export function idealPace(api: ApiSpec, w: Workload, f: FamilySpec): { perS: number; latencyMs: number } {
  const input = logMean(w.input);
  const readsFree = !f.cacheReadsCount && w.prefixShare > 0;
  const inCost = readsFree ? input * (1 - w.prefixShare) : input;
  const outMean = w.maxTokens * ((w.outFrac[0] + w.outFrac[1]) / 2);
  const rate = (limit: number, cost: number) => (limit * (1 - api.otherUser)) / 60 / Math.max(cost, 1e-9);
  const perS = Math.min(
    rate(f.limits.requests, 1),
    rate(f.limits.input_tokens, inCost),
    rate(f.limits.output_tokens, outMean),
  );
  const { ttftMs, sigma, tokensPerS } = api.latency;
  return { perS, latencyMs: ttftMs * Math.exp((sigma * sigma) / 2) + (outMean * 1000) / tokensPerS };
}

/** Duration, warm-up, slots and faults, from the condition's pace. */
function finish(
  c: Omit<Condition, 'slots' | 'durationMs' | 'warmupMs' | 'expectedCalls'>,
  rng: Rng,
): Condition {
  const paces = c.api.families.map((f, i) => idealPace(c.api, c.workload[i] as Workload, f));
  const perS = paces.reduce((s, p) => s + p.perS, 0);
  // Long enough for `calls` in all and a third of them for the slowest family, at most maxMs or
  // maxCalls — but never under minMs (a Scale-tier condition makes more calls rather than run for 3 s).
  const slowest = Math.min(...paces.map((p) => p.perS));
  const wanted = Math.max((sizing.calls / perS) * 1000, (sizing.calls / 3 / slowest) * 1000);
  const capped = Math.min(sizing.maxMs, (sizing.maxCalls / perS) * 1000, wanted);
  const durationMs = Math.round(Math.max(sizing.minMs, capped));
  const slots = paces.map((p) =>
    Math.max(2, Math.ceil((1.3 * p.perS * p.latencyMs) / 1000 / c.processes) + 2),
  );
  const api = { ...c.api };
  if (rng.chance(0.15))
    api.limitChange = { atMs: durationMs * rng.between(0.3, 0.7), factor: rng.logBetween(0.5, 2) };
  if (rng.chance(0.15)) {
    const n = rng.int(1, 3);
    for (let i = 0; i < n; i++)
      api.overload.push({
        startMs: durationMs * rng.between(0.1, 0.9),
        durationMs: rng.between(1000, 10_000),
      });
  }
  const warmupMs = Math.round(Math.min(60_000, Math.max(3_000, durationMs * 0.15)));
  // The run lasts as much longer as its 529 bursts last: the sizing above is time in which the API
  // serves, and a burst that covered most of a short run left a measured interval of a fraction of
  // a second (22022:581: 2 calls for the ideal client, none for promptq, "0.000"); so the recovery
  // after a burst is measured too.
  const runMs = durationMs + Math.round(api.overload.reduce((t, o) => t + o.durationMs, 0));
  return { ...c, api, slots, durationMs: runMs, warmupMs, expectedCalls: Math.round((perS * runMs) / 1000) };
}

/** The conditions named in issue 22 (added to every run, replayed by name). */
export function namedConditions(): Condition[] {
  const rng = Rng.of(22, 0, 0x2a);
  const base = (over: Partial<ApiSpec>, w: Partial<Workload>, limits: Limits, processes = 1) =>
    finish(
      {
        id: '',
        seed: 22,
        index: 0,
        api: {
          families: [{ model: 'claude-sonnet-4-5', limits, cacheReadsCount: false }],
          windowS: 60,
          headers: { mode: 'present', scale: 1 },
          otherUser: 0,
          overload: [],
          latency: { ttftMs: 400, sigma: 0.5, tokensPerS: 80 },
          ...over,
        },
        workload: [
          {
            input: [500, 2000],
            prefixShare: 0,
            prefixes: 0,
            maxTokens: 512,
            outFrac: [0.3, 0.7],
            estimateBias: 1,
            fastShare: 0,
            ...w,
          },
        ],
        processes,
      },
      rng,
    );
  const named: [string, Condition][] = [
    // No rate-limit headers, the per-minute limit enforced over one-second windows.
    [
      'no-headers-1s',
      base(
        { windowS: 1, headers: { mode: 'absent', scale: 1 } },
        { maxTokens: 64 },
        { requests: 120, input_tokens: 1e7, output_tokens: 1e6 },
      ),
    ],
    // Output-token bound at tier 1: max_tokens is several seconds of OTPM refill, outputs about half of it.
    ['otpm-low-tier', base({ windowS: 10 }, { maxTokens: 1000, outFrac: [0.4, 0.6] }, tiers.tier1 as Limits)],
    // A cached prefix far larger than the question: uncached, the prompts would need many times the ITPM.
    [
      'cached-prefix',
      base(
        {},
        { input: [40_000, 50_000], prefixShare: 0.97, prefixes: 1, maxTokens: 256 },
        { requests: 1000, input_tokens: 400_000, output_tokens: 90_000 },
      ),
    ],
    // Scale tier, calls of several seconds, hundreds in flight across four processes.
    [
      'scale-4proc',
      base(
        { latency: { ttftMs: 2000, sigma: 0.6, tokensPerS: 100 } },
        { maxTokens: 600, outFrac: [0.5, 1] },
        tiers.scale as Limits,
        4,
      ),
    ],
  ];
  return named.map(([id, c]) => ({ ...c, id, api: { ...c.api, overload: [], limitChange: undefined } }));
}

/** Every condition of a run: the fixed seed's n, the fresh seed's n (if any), and the named ones. */
export function matrix(seeds: number[], n: number): Condition[] {
  const out: Condition[] = [];
  for (const seed of seeds) for (let k = 0; k < n; k++) out.push(drawCondition(seed, k));
  return [...out, ...namedConditions()];
}

/** A condition by id: `SEED:K` or a name. */
export function conditionById(id: string): Condition {
  const named = namedConditions().find((c) => c.id === id);
  if (named) return named;
  const m = /^(-?\d+):(\d+)$/.exec(id);
  if (!m)
    throw new Error(
      `no condition ${id} (SEED:K or one of ${namedConditions()
        .map((c) => c.id)
        .join(', ')})`,
    );
  return drawCondition(Number(m[1]), Number(m[2]));
}

/** One request of family `fam` of the condition's workload. */
export function drawApiRequest(c: Condition, fam: number, rng: Rng): ApiRequest {
  const w = c.workload[fam];
  const f = c.api.families[fam];
  if (!w || !f) throw new Error(`no family ${fam}`);
  const inputTokens = Math.round(rng.logBetween(w.input[0], w.input[1] + 1));
  const prefixTokens = Math.round(inputTokens * w.prefixShare);
  const prefixKey = w.prefixes > 0 ? `p${rng.int(1, w.prefixes)}` : undefined;
  const outputTokens = Math.max(1, Math.round(w.maxTokens * rng.between(w.outFrac[0], w.outFrac[1])));
  const fast = f.fast !== undefined && rng.chance(w.fastShare);
  return { family: fam, fast, inputTokens, prefixTokens, prefixKey, maxTokens: w.maxTokens, outputTokens };
}
