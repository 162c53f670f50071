import { type BatchesOptions, resolveBatchesOptions } from './batches-options.js';
import { defaultCacheMinTokens, defaultGroupOf, defaultMaxOutputTokens } from './models.js';
import type { Arrival, LimitSet, Limits, ServedResponse } from './types.js';

/** Probabilities (0..1, summing to at most 1) of random faults per `POST /v1/messages`. */
export interface FaultRates {
  /**
   * 529 `overloaded_error`.
   * @defaultValue 0
   */
  overloaded?: number;
  /**
   * 500 `api_error`.
   * @defaultValue 0
   */
  apiError?: number;
  /**
   * Connection destroyed without a response.
   * @defaultValue 0
   */
  drop?: number;
  /**
   * No response ever (until the client aborts or the simulator closes).
   * @defaultValue 0
   */
  hang?: number;
  /**
   * 200, some deltas, then an SSE `overloaded_error` (a late 529 for non-streaming calls).
   * @defaultValue 0
   */
  midstream?: number;
}

/**
 * Output length: `max_tokens × u` with `u` uniform in [minFraction, maxFraction], capped at `cap`;
 * a draw at or above `max_tokens` stops with `stop_reason: "max_tokens"`.
 */
export interface OutputDistribution {
  /** @defaultValue 0.1 */
  minFraction?: number;
  /**
   * Above 1 so that about one response in ten is cut off at `max_tokens`, as real traffic is.
   * @defaultValue 1.1
   */
  maxFraction?: number;
  /**
   * Longest natural answer in tokens (0 = no cap).
   * @defaultValue 400
   */
  cap?: number;
  /**
   * When the request has `stop_sequences`, the chance that an answer ending naturally ends on one.
   * @defaultValue 0.5
   */
  stopSequenceRate?: number;
}

/** Options of {@link startSimulator}; every field is optional. */
export interface SimulatorOptions {
  /**
   * Listen address.
   * @defaultValue '127.0.0.1'
   */
  host?: string;
  /**
   * Listen port; 0 picks a free one.
   * @defaultValue 0
   */
  port?: number;
  /**
   * The only accepted API key (via `x-api-key` or `authorization: Bearer`). Unset: any non-empty key.
   * @defaultValue undefined
   */
  apiKey?: string;
  /**
   * Seed of the PRNGs behind random faults and output lengths.
   * @defaultValue 1
   */
  seed?: number;
  /**
   * Limits every model group starts with (Anthropic's tier-2 Sonnet limits by default). 0 = unlimited.
   * @defaultValue `{ rpm: 1000, itpm: 450000, otpm: 90000, announced: null }`
   */
  limits?: Partial<LimitSet>;
  /**
   * Per-group overrides of `limits`, keyed by group name (see `groupOf`). A `speed: "fast"` call is
   * served from its group's fast bucket, `<group>-fast` (`opus-fast`), announced in
   * `anthropic-fast-*` headers: its limits are `limits` (requests unlimited) unless set here.
   * @defaultValue `{}`
   */
  groupLimits?: Record<string, Partial<LimitSet>>;
  /**
   * Maps a model to its rate-limit group.
   * @defaultValue the family in the name (`opus`, `sonnet`, `haiku`), else the model name
   */
  groupOf?: (model: string) => string;
  /**
   * Start every bucket empty instead of full (benchmarks: no free first-minute burst).
   * @defaultValue false
   */
  startEmpty?: boolean;
  /**
   * Hidden short-interval guard: each limit is also enforced over this many seconds
   * (limit/60 × seconds), which the headers do not show. 0 = off.
   * @defaultValue 0
   */
  shortIntervalSeconds?: number;
  /**
   * Send the `anthropic-ratelimit-*` headers. `false` models an endpoint that omits them (a gateway
   * or proxy in between, an Anthropic-compatible API that does not send them): the limits are still
   * enforced, and a 429 still carries `retry-after`.
   * @defaultValue true
   */
  rateLimitHeaders?: boolean;
  /**
   * Delay before any response to `/v1/messages` (network and queueing), errors included.
   * @defaultValue 0
   */
  latencyMs?: number;
  /**
   * Time from response start to the first token.
   * @defaultValue 20
   */
  ttftMs?: number;
  /**
   * Time per output token after the first.
   * @defaultValue 0.2
   */
  msPerToken?: number;
  /**
   * Output tokens per `content_block_delta` event.
   * @defaultValue 4
   */
  tokensPerDelta?: number;
  /**
   * Random fault probabilities.
   * @defaultValue all 0
   */
  faults?: FaultRates;
  /**
   * Output length distribution.
   * @defaultValue `{ minFraction: 0.1, maxFraction: 1.1, cap: 400, stopSequenceRate: 0.5 }`
   */
  output?: OutputDistribution;
  /**
   * Amazon Bedrock's quota on its routes (provider-routes.ts): tokens per minute per model group,
   * input plus `max_tokens` reserved at the start, the unused output given back. 0 = none.
   * @defaultValue 0
   */
  bedrockTpm?: number;
  /**
   * Largest accepted request body in bytes (larger → 413 `request_too_large`).
   * @defaultValue 33554432 (32 MB, the real Messages API limit)
   */
  maxBodyBytes?: number;
  /**
   * Largest `max_tokens` per model (a number applies to all).
   * @defaultValue per-model table (64000 for current models)
   */
  maxOutputTokens?: number | ((model: string) => number);
  /**
   * Shortest cacheable prefix per model (a number applies to all).
   * @defaultValue per-model table (1024; 2048 or 4096 for Haiku models)
   */
  cacheMinTokens?: number | ((model: string) => number);
  /**
   * Require the `anthropic-version` header, as the real API does.
   * @defaultValue true
   */
  requireVersionHeader?: boolean;
  /**
   * Clock for buckets, cache lifetimes and stats timestamps (ms since epoch).
   * @defaultValue Date.now
   */
  now?: () => number;
  /**
   * Called once per admitted message when its delivery ends (ground truth for tests that compare
   * what a client recorded with what was served). Errors thrown by it are ignored.
   * @defaultValue undefined
   */
  onServed?: (served: ServedResponse) => void;
  /**
   * Answer as an organization with Priority Tier capacity: a request that allows it (`service_tier`
   * `auto`, the default) is served at `priority` (`usage.service_tier`), one that says
   * `standard_only` at `standard`.
   * @defaultValue false
   */
  priorityTier?: boolean;
  /**
   * Called once per `POST /v1/messages` that reaches the rate limits, admitted or answered 429
   * (ground truth for pacing checks: a client that ignores the limits shows here, not in
   * `onServed`). Errors thrown by it are ignored.
   * @defaultValue undefined
   */
  onArrival?: (arrival: Arrival) => void;
  /**
   * The Message Batches endpoints: processing time, per-request failure and expiry rates, limits.
   * @defaultValue see `BatchesOptions`
   */
  batches?: BatchesOptions;
}

/** {@link SimulatorOptions} with every default applied. */
export interface ResolvedOptions {
  host: string;
  port: number;
  apiKey: string | undefined;
  seed: number;
  limits: LimitSet;
  groupLimits: Record<string, Partial<LimitSet>>;
  groupOf: (model: string) => string;
  startEmpty: boolean;
  shortIntervalSeconds: number;
  rateLimitHeaders: boolean;
  latencyMs: number;
  ttftMs: number;
  msPerToken: number;
  tokensPerDelta: number;
  faults: Required<FaultRates>;
  output: Required<OutputDistribution>;
  maxBodyBytes: number;
  bedrockTpm: number;
  maxOutputTokens: (model: string) => number;
  cacheMinTokens: (model: string) => number;
  requireVersionHeader: boolean;
  now: () => number;
  onServed: ((served: ServedResponse) => void) | undefined;
  priorityTier: boolean;
  onArrival: ((arrival: Arrival) => void) | undefined;
  batches: Required<BatchesOptions>;
}

/** Every default in one place. */
export const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  seed: 1,
  limits: { rpm: 1_000, itpm: 450_000, otpm: 90_000, announced: null } satisfies LimitSet,
  startEmpty: false,
  shortIntervalSeconds: 0,
  rateLimitHeaders: true,
  latencyMs: 0,
  ttftMs: 20,
  msPerToken: 0.2,
  tokensPerDelta: 4,
  faults: { overloaded: 0, apiError: 0, drop: 0, hang: 0, midstream: 0 } satisfies Required<FaultRates>,
  output: {
    minFraction: 0.1,
    maxFraction: 1.1,
    cap: 400,
    stopSequenceRate: 0.5,
  } satisfies Required<OutputDistribution>,
  maxBodyBytes: 32 * 1024 * 1024,
  bedrockTpm: 0,
  requireVersionHeader: true,
} as const;

/** Thrown for an invalid option; the message names the field. */
export class SimulatorOptionError extends Error {
  override readonly name = 'SimulatorOptionError';
}

function check(ok: boolean, field: string, rule: string, value: unknown): void {
  if (!ok) throw new SimulatorOptionError(`${field} must be ${rule} (got ${JSON.stringify(value)})`);
}

function nonNegative(value: number, field: string): number {
  check(
    typeof value === 'number' && Number.isFinite(value) && value >= 0,
    field,
    'a finite number >= 0',
    value,
  );
  return value;
}

function probability(value: number, field: string): number {
  check(typeof value === 'number' && value >= 0 && value <= 1, field, 'a probability in [0, 1]', value);
  return value;
}

function validLimits(limits: Partial<Limits>, field: string): void {
  for (const key of ['rpm', 'itpm', 'otpm'] as const) {
    const v = limits[key];
    if (v !== undefined) nonNegative(v, `${field}.${key}`);
  }
}

/**
 * Merges a partial limit set over a complete one. `announced` is replaced as a whole when present
 * (`null` clears it).
 */
export function mergeLimits(base: LimitSet, patch: Partial<LimitSet>, field = 'limits'): LimitSet {
  check(typeof patch === 'object' && patch !== null, field, 'an object', patch);
  validLimits(patch, field);
  if (patch.announced) validLimits(patch.announced, `${field}.announced`);
  const merged: LimitSet = {
    rpm: patch.rpm ?? base.rpm,
    itpm: patch.itpm ?? base.itpm,
    otpm: patch.otpm ?? base.otpm,
    announced: base.announced,
  };
  if (patch.announced !== undefined) merged.announced = patch.announced ? { ...patch.announced } : null;
  return merged;
}

function perModel(
  value: number | ((model: string) => number) | undefined,
  field: string,
  fallback: (m: string) => number,
) {
  if (value === undefined) return fallback;
  if (typeof value === 'function') return value;
  nonNegative(value, field);
  return () => value;
}

/** Applies defaults and validates; throws {@link SimulatorOptionError} naming the bad field. */
export function resolveOptions(opts: SimulatorOptions = {}): ResolvedOptions {
  const { host, port, seed } = resolveListen(opts);
  const groupLimits: Record<string, Partial<LimitSet>> = {};
  for (const [group, patch] of Object.entries(opts.groupLimits ?? {})) {
    mergeLimits(DEFAULTS.limits, patch, `groupLimits.${group}`);
    groupLimits[group] = patch;
  }
  const faults = resolveFaults(opts.faults);
  const output = resolveOutput(opts.output);
  const { tokensPerDelta, maxBodyBytes, shortIntervalSeconds } = resolveSizes(opts);
  checkHooks(opts);
  const resolvedBatches = resolveBatchesOptions(opts.batches);
  if (typeof resolvedBatches === 'string') throw new SimulatorOptionError(resolvedBatches);
  return {
    host,
    port,
    apiKey: opts.apiKey,
    seed,
    limits: mergeLimits(DEFAULTS.limits, opts.limits ?? {}),
    groupLimits,
    groupOf: opts.groupOf ?? defaultGroupOf,
    startEmpty: opts.startEmpty ?? DEFAULTS.startEmpty,
    shortIntervalSeconds,
    rateLimitHeaders: opts.rateLimitHeaders ?? DEFAULTS.rateLimitHeaders,
    latencyMs: nonNegative(opts.latencyMs ?? DEFAULTS.latencyMs, 'latencyMs'),
    ttftMs: nonNegative(opts.ttftMs ?? DEFAULTS.ttftMs, 'ttftMs'),
    msPerToken: nonNegative(opts.msPerToken ?? DEFAULTS.msPerToken, 'msPerToken'),
    tokensPerDelta,
    faults,
    output,
    maxBodyBytes,
    bedrockTpm: nonNegative(opts.bedrockTpm ?? DEFAULTS.bedrockTpm, 'bedrockTpm'),
    maxOutputTokens: perModel(opts.maxOutputTokens, 'maxOutputTokens', defaultMaxOutputTokens),
    cacheMinTokens: perModel(opts.cacheMinTokens, 'cacheMinTokens', defaultCacheMinTokens),
    requireVersionHeader: opts.requireVersionHeader ?? DEFAULTS.requireVersionHeader,
    now: opts.now ?? Date.now,
    onServed: opts.onServed,
    priorityTier: opts.priorityTier === true,
    onArrival: opts.onArrival,
    batches: resolvedBatches,
  };
}

/** Where to listen, the API key, the seed. */
function resolveListen(opts: SimulatorOptions): { host: string; port: number; seed: number } {
  const port = opts.port ?? DEFAULTS.port;
  check(Number.isInteger(port) && port >= 0 && port <= 65_535, 'port', 'an integer in [0, 65535]', port);
  const host = opts.host ?? DEFAULTS.host;
  check(typeof host === 'string' && host.length > 0, 'host', 'a non-empty string', host);
  if (opts.apiKey !== undefined) {
    // Never echo the key itself, even in a validation error.
    check(
      typeof opts.apiKey === 'string' && opts.apiKey.length > 0,
      'apiKey',
      'a non-empty string',
      '<redacted>',
    );
  }
  const seed = opts.seed ?? DEFAULTS.seed;
  check(Number.isInteger(seed), 'seed', 'an integer', seed);
  return { host, port, seed };
}

function resolveFaults(given: FaultRates | undefined): Required<FaultRates> {
  const faults = { ...DEFAULTS.faults, ...given };
  for (const [key, value] of Object.entries(faults)) probability(value, `faults.${key}`);
  const faultSum = Object.values(faults).reduce((a, b) => a + b, 0);
  check(faultSum <= 1, 'faults', 'probabilities summing to at most 1', faults);
  return faults;
}

function resolveOutput(given: OutputDistribution | undefined): Required<OutputDistribution> {
  const output = { ...DEFAULTS.output, ...given };
  nonNegative(output.minFraction, 'output.minFraction');
  nonNegative(output.maxFraction, 'output.maxFraction');
  check(
    output.maxFraction >= output.minFraction,
    'output.maxFraction',
    '>= output.minFraction',
    output.maxFraction,
  );
  nonNegative(output.cap, 'output.cap');
  probability(output.stopSequenceRate, 'output.stopSequenceRate');
  return output;
}

/** Stream granularity, body size, the hidden short interval. */
function resolveSizes(
  opts: SimulatorOptions,
): Pick<ResolvedOptions, 'tokensPerDelta' | 'maxBodyBytes' | 'shortIntervalSeconds'> {
  const tokensPerDelta = opts.tokensPerDelta ?? DEFAULTS.tokensPerDelta;
  check(
    Number.isInteger(tokensPerDelta) && tokensPerDelta >= 1,
    'tokensPerDelta',
    'an integer >= 1',
    tokensPerDelta,
  );
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  check(Number.isInteger(maxBodyBytes) && maxBodyBytes >= 1, 'maxBodyBytes', 'an integer >= 1', maxBodyBytes);
  const shortIntervalSeconds = opts.shortIntervalSeconds ?? DEFAULTS.shortIntervalSeconds;
  check(
    typeof shortIntervalSeconds === 'number' && shortIntervalSeconds >= 0 && shortIntervalSeconds <= 60,
    'shortIntervalSeconds',
    'a number of seconds in [0, 60]',
    shortIntervalSeconds,
  );
  return { tokensPerDelta, maxBodyBytes, shortIntervalSeconds };
}

/** The options that are functions. */
function checkHooks(opts: SimulatorOptions): void {
  check(
    opts.groupOf === undefined || typeof opts.groupOf === 'function',
    'groupOf',
    'a function',
    typeof opts.groupOf,
  );
  check(opts.now === undefined || typeof opts.now === 'function', 'now', 'a function', typeof opts.now);
  check(
    opts.onServed === undefined || typeof opts.onServed === 'function',
    'onServed',
    'a function',
    typeof opts.onServed,
  );
  check(
    opts.onArrival === undefined || typeof opts.onArrival === 'function',
    'onArrival',
    'a function',
    typeof opts.onArrival,
  );
}
