/**
 * The simulator's options (what {@link SimulatorOptions} may say, what {@link ResolvedOptions}
 * holds) and every default ({@link DEFAULTS}); resolve-options.ts applies and checks them.
 */
import type { BatchesOptions } from './batches-options.js';
import type { Arrival, LimitSet, ServedResponse } from './types.js';

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
