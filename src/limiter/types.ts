/** The limiter's public shapes: what a call plans to spend, what the API answered, the permit. */

import type { LimiterConfig } from '../core/settings.js';
import type { EventSink } from '../events/types.js';
import type { Outcome, RateLimitSignals } from '../providers/provider.js';
import type { RedisConnection as Redis } from '../store/connection.js';
import type { Keyspace } from '../store/keys.js';

/** What an attempt is about to spend. */
export interface CallPlan {
  model: string;
  /** Local estimate of input tokens (the whole prompt, cached or not). */
  inputTokens: number;
  /** Of those, the estimated cacheable prefix (up to the last `cache_control`). @defaultValue 0 */
  cachePrefixTokens?: number;
  /** A fingerprint of that prefix (the cache hits only an identical prefix). */
  cachePrefixKey?: string;
  maxTokens: number;
  /**
   * `fast`: the call asks for `speed: "fast"`, which the API limits in a bucket of its own
   * (`anthropic-fast-*` headers): it is paced in a group of its own, `<group>-fast`.
   * @defaultValue standard
   */
  speed?: 'fast' | 'standard' | undefined;
  tenant: string;
  /** Job priority (1 = highest). */
  priority?: number;
  /** The tenant's quota, enforced at admission; none when absent. */
  quota?: TenantQuota | undefined;
}

/** Requests, or tokens (input or output): what a quota ran short of. */
export type QuotaResource = 'requests' | 'tokens';

/**
 * The per-minute quota of a tenant across every model group (requests and tokens), kept outside the
 * group's keys (another Redis Cluster slot): taken before the group's admission, given back when the
 * call is then not admitted, and by what the call's estimate exceeded its real tokens.
 */
export interface AccountQuotaPort {
  /** Count one call of `tokens` (input estimate + `max_tokens`), or say how long until it fits. */
  take(tokens: number): Promise<{ waitMs: number; resource: QuotaResource }>;
  /** Give back requests and tokens (negative tokens: charge more). */
  giveBack(requests: number, tokens: number): Promise<void>;
}

/** A tenant's quota as the limiter enforces it. */
export interface TenantQuota {
  /** Names the tenant among all queues sharing the account (`<queue key base>/<tenant>`: the BullMQ prefix and the queue). */
  id: string;
  /**
   * Fraction (0, 1] of each model group's discovered (or learned) limits the tenant may take,
   * charged atomically with the group's own buckets.
   */
  share?: number | undefined;
  /** Requests and tokens per minute across groups (`--rpm`, `--tpm`). */
  perMinute?: AccountQuotaPort | undefined;
}

/** What the API answered. */
export interface CallResult {
  outcome: Outcome;
  /** The answer's rate-limit signals (the provider read them); `null` when no answer arrived. */
  signals: RateLimitSignals | null;
  retryAfterMs: number | null;
  /** Real usage, when the call succeeded (`input_tokens`: the uncached input only). */
  inputTokens?: number;
  outputTokens?: number;
  cacheCreationInputTokens?: number;
  cacheReadInputTokens?: number;
  /**
   * The API refused the call before its rate limits counted it: a 404 `not_found_error` (no such
   * model). The whole charge, its request included, goes back to the group.
   */
  notCharged?: boolean;
}

/**
 * No permit soon: the group is paused, or enough calls of this process already wait for it. The
 * caller hands the job back until `untilMs` instead of holding a worker slot that a call of another
 * group (or a job of higher priority) could use.
 */
export interface Deferral {
  deferred: true;
  /** When to ask again (epoch ms): the group's estimated permit time. */
  untilMs: number;
  /** `quota`: the call's tenant is over its quota (the group may have room for others). */
  reason: 'paused' | 'pacing' | 'queued' | 'quota';
  /** With `quota`: what the tenant ran short of. */
  resource?: QuotaResource;
}

/** Options of {@link RateLimiter.acquire}. */
export interface AcquireOptions {
  /**
   * May answer with a {@link Deferral} instead of waiting longer than `holdMs` (tuning) for a
   * permit. @defaultValue `false`
   */
  mayDefer?: boolean;
}

export interface Permit {
  /** The answer's rate-limit signals, as soon as its headers arrive (before the body streams). */
  observeSignals(signals: RateLimitSignals): void;
  /**
   * The answer's first token arrived: the API has processed the prompt, so a cache prefix it wrote
   * can be read now (cache-aware order, limiter/cache-order.ts). Optional to call.
   */
  observeFirstToken?(): void;
  /** Report the answer. Idempotent. */
  settle(result: CallResult): Promise<void>;
}

export interface LimiterOptions {
  /** Redis holding the shared buckets. */
  redis: Redis;
  /** Separates accounts: a fingerprint of the API key (never the key itself) or a fixed name. */
  account: string;
  /** Names the groups' keys (hash-tagged on a cluster): `keyspaceOf(config)`. */
  keys: Pick<Keyspace, 'limiterGroup' | 'limiterShare' | 'limiterCachePrefix' | 'limiterPeers'>;
  /** `config.limiter`: the ceilings, the tuning, when an idle group is forgotten. */
  config: LimiterConfig;
  /**
   * Where the limiter's view of each group goes (events/types.ts: `limitSignals`, `groupLimits`,
   * `groupPace`, `groupPaused`): metrics and logs subscribe there.
   */
  events?: EventSink | undefined;
}
