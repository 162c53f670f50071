/**
 * The limiter's scripts (lua/limiter-*.lua) with their KEYS named in header order and their
 * arguments as one named object each (ARGV[1], JSON). The header-learning Lua both the observe and
 * the settle run is one file, `lua/include/limiter-learn-headers.lua`. What the group hash holds
 * and why is limiter/shared-state.ts; the algorithm is docs/limiter.md; the key is keys.ts's
 * `limiterGroup`.
 */
import type { LimiterTuning } from '../core/settings.js';
import type { RedisConnection as Redis } from './connection.js';
import { jsonScript } from './scripts.js';

/** A triple per bucket, in the order requests, input tokens, output tokens. */
export type PerBucket = readonly [number, number, number];

/**
 * What a response's rate-limit headers announce: -1 where a value was not sent; ceilings 0 = none.
 * Remainders at their upper end when the API rounds them.
 */
export interface HeaderArgs {
  limit: PerBucket;
  remaining: PerBucket;
  ceiling: PerBucket;
  /** What the API's bucket has shown it holds (lua/include/limiter-bucket.lua); -1: nothing shown. */
  held: PerBucket;
  /** When the answer began (ms): the remainders are as of then. */
  at?: number | undefined;
  /** The answered call's cost: a first remainder of zero may hide its debt. */
  charge?: PerBucket | undefined;
  /**
   * The group's levels right after this call was admitted (null: unknown), as of the instant the
   * API's remainders describe: the two are compared to learn the pace (lua/include/limiter-learn-headers.lua).
   */
  admitted?: readonly [number | null, number | null, number | null] | undefined;
  /** When the answered call was admitted (ms). */
  admittedAt?: number | undefined;
}

export interface AdmitArgs {
  now: number;
  cost: PerBucket;
  /** The tenant's share of the group's limits, (0, 1]; 0 = no share quota. */
  share: number;
  tuning: LimiterTuning;
}

export interface ObserveArgs {
  now: number;
  headers: HeaderArgs;
  /**
   * An answer began (the discovery request's: without headers, the request limit is learned from
   * here; the overload probe's: the overload is over).
   */
  answered?: boolean;
  tuning: LimiterTuning;
}

export interface SettleArgs {
  now: number;
  outcome: 'success' | 'rate_limited' | 'overloaded' | 'other';
  /** Requests, input and output tokens to give back (negative: charge more). */
  refund: readonly [number, number, number];
  /** -1: none. */
  retryAfterMs: number;
  /** 0..1. */
  jitter: number;
  /** Real/estimated input tokens of this request; -1: none. */
  inRatioSample: number;
  /** 1: the answer carried rate-limit headers; 0: an answer without them; -1: no answer. */
  headersSeen: 1 | 0 | -1;
  /** The request was the discovery request. */
  discovery: boolean;
  /** The request was the overload probe (the first after a 529 pause). */
  probe: boolean;
  /** The answer's headers, learned in the same step. */
  headers?: HeaderArgs | undefined;
  tuning: LimiterTuning;
}

/** waitMs, state, the short share bucket ('' or absent), and when admitted the levels after the charge. */
export type AdmitReply = [number, string, string | undefined, string?, string?, string?];
export const admitScript = jsonScript<['group', 'share'], AdmitArgs, AdmitReply>(
  'limiter-admit-2.lua',
  ['group', 'share'],
  (r) => r as AdmitReply,
);
/** Give back to a tenant's share buckets what a call did not use (lua/limiter-share-refund-1.lua). */
export const shareRefundScript = jsonScript<['share'], { refund: readonly [number, number] }, number>(
  'limiter-share-refund-1.lua',
  ['share'],
  Number,
);
export const observeScript = jsonScript<['group'], ObserveArgs, string>(
  'limiter-observe-1.lua',
  ['group'],
  String,
);
export const settleScript = jsonScript<['group'], SettleArgs, [string, string, string]>(
  'limiter-settle-1.lua',
  ['group'],
  (r) => r as [string, string, string],
);

/** The whole group hash (empty when the group is unknown). */
export function readGroup(redis: Redis, key: string): Promise<Record<string, string>> {
  return redis.hgetall(key);
}
