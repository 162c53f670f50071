/**
 * The worker's and the limiter's settings: `config.worker` and `config.limiter` of the resolved
 * configuration (settings.ts, which re-exports them), with the policies they hold. As in
 * settings.ts, a `@defaultValue` is checked against `defaults` (defaults.ts) by
 * test/core/config-defaults.test.ts.
 */

/** Backoff between a job's attempts when the API sends no `retry-after`. */
export interface BackoffPolicy {
  /**
   * First retry waits about this long (overloads twice as long, 5xx and network errors half),
   * 1-3,600,000 (`PROMPTQ_RETRY_BASE_MS`).
   * @defaultValue `1000`
   */
  readonly baseMs: number;
  /** No backoff grows past this, 1-86,400,000 (`PROMPTQ_RETRY_MAX_MS`); a longer `retry-after` is honoured. @defaultValue `60000` */
  readonly maxMs: number;
  /** Random extra wait on top of a `retry-after`, so that workers do not all return in one millisecond. @defaultValue `250` */
  readonly retryAfterJitterMs: number;
}

/** The worker chooses its own concurrency: rate × latency (Little's law) × 1.5, within bounds. */
export interface AdaptiveConcurrency {
  /** @defaultValue `8` */
  readonly min: number;
  /** @defaultValue `256` */
  readonly max: number;
  /** How often the worker reconsiders its concurrency. @defaultValue `2000` */
  readonly intervalMs: number;
}

/** How long over-budget jobs wait before they ask again. */
export interface BudgetWaitPolicy {
  /** Room held by calls in flight: ask again after about this long. @defaultValue `2000` */
  readonly heldMs: number;
  /** Budget spent: ask again after about this long (or at the period's end). @defaultValue `60000` */
  readonly spentMs: number;
}

/** The worker (worker/worker.ts, worker/core.ts). */
export interface WorkerConfig {
  /**
   * Jobs in flight per worker, 1-1000 (`PROMPTQ_CONCURRENCY`); the starting point when
   * `adaptiveConcurrency` is on.
   * @defaultValue `16`
   */
  readonly concurrency: number;
  /**
   * Let the worker choose its concurrency between bounds; `false`: exactly `concurrency`.
   * @defaultValue `{ min: 8, max: 256, intervalMs: 2000 }`, and `false` when `concurrency` is given
   */
  readonly adaptiveConcurrency: AdaptiveConcurrency | false;
  /** API attempts per job before it fails, 1-100 (`PROMPTQ_MAX_ATTEMPTS`; 429s not counted). @defaultValue `8` */
  readonly maxAttempts: number;
  /** 429s a job may meet before it fails, 0-10,000 (`PROMPTQ_MAX_RATE_LIMITED`). @defaultValue `50` */
  readonly maxRateLimited: number;
  /**
   * Overloaded (529) answers in a row after which a job with `fallback_models` moves on, 1-100
   * (`PROMPTQ_FALLBACK_AFTER_OVERLOADED`).
   * @defaultValue `2`
   */
  readonly fallbackAfterOverloaded: number;
  readonly backoff: BackoffPolicy;
  /** Per-attempt timeout, ≥ 100 (`PROMPTQ_REQUEST_TIMEOUT_MS`): a hanging call is aborted and retried. @defaultValue `600000` */
  readonly requestTimeoutMs: number;
  /**
   * A graceful shutdown waits this long for in-flight jobs, then returns them to the queue, ≥ 0
   * (`PROMPTQ_SHUTDOWN_TIMEOUT_MS`).
   * @defaultValue `30000`
   */
  readonly shutdownTimeoutMs: number;
  /**
   * After `shutdownTimeoutMs`, this long to return jobs and close connections; then the process
   * exits whatever Redis and the API do (its jobs return once their lock expires).
   * @defaultValue `5000`
   */
  readonly shutdownGraceMs: number;
  /** A job's lock lifetime, ≥ 1000, renewed every half of it while the worker lives (`PROMPTQ_LOCK_DURATION_MS`). @defaultValue `60000` */
  readonly lockDurationMs: number;
  /**
   * How long a record or budget write that Redis refuses for a passing reason (`OOM`, `READONLY`,
   * `LOADING`, …) is kept in memory and tried again, so that a call the API has answered is recorded
   * and charged once Redis takes writes again (worker/records.ts). Past it the job fails (and is
   * retried by BullMQ). At most one pending write per job in flight.
   * @defaultValue `300000`
   */
  readonly writeRetryMs: number;
  /** How often workers look for jobs whose lock expired, ≥ 500 (`PROMPTQ_STALLED_INTERVAL_MS`). @defaultValue `30000` */
  readonly stalledIntervalMs: number;
  /** Times a job may be found stalled (its worker died) before BullMQ fails it. @defaultValue `2` */
  readonly maxStalledCount: number;
  /** Log prompt and completion text in the per-attempt line (`PROMPTQ_LOG_PROMPTS`). @defaultValue `false` */
  readonly logPrompts: boolean;
  readonly budgetWait: BudgetWaitPolicy;
  /** A budget hold left by a worker that died stops counting after the request timeout plus this. @defaultValue `600000` */
  readonly budgetHoldGraceMs: number;
  /**
   * A tenant with no record (no budget, no quota) is remembered this long: its calls skip the
   * budget round trip meanwhile, so a tenant added while its jobs run is enforced within this long.
   * @defaultValue `2000`
   */
  readonly tenantUnknownCacheMs: number;
  /** A job that met a spend limit is put back this long (the paused queue holds it until resumed). @defaultValue `1000` */
  readonly spendLimitDelayMs: number;
}

/** Optional ceilings below the account's limits, per model group and minute; 0: none. */
export interface LimitCeilings {
  /** Requests per minute, ≥ 0 (`PROMPTQ_MAX_RPM`). @defaultValue `0` */
  readonly rpm: number;
  /** Input tokens per minute, ≥ 0 (`PROMPTQ_MAX_ITPM`). @defaultValue `0` */
  readonly itpm: number;
  /** Output tokens per minute, ≥ 0 (`PROMPTQ_MAX_OTPM`). @defaultValue `0` */
  readonly otpm: number;
}

/** The limiter's tuning (limiter/shared-state.ts, store/lua/limiter-*.lua): numbers ≥ 0. */
export interface LimiterTuning {
  /** Share of the announced limits to aim for, in (0, 1] (`PROMPTQ_TARGET_UTILIZATION`). @defaultValue `0.995` */
  readonly target: number;
  /** Bucket capacity in ms of refill: the largest burst sent. @defaultValue `1000` */
  readonly burstMs: number;
  /** Refill time kept in reserve (never spent): absorbs the jitter between admission and arrival. @defaultValue `200` */
  readonly reserveMs: number;
  /** How long a group's discovery request holds it (a dead worker's frees the group after this). @defaultValue `10000` */
  readonly discoveryTtlMs: number;
  /** Floor of the pace multiplier. @defaultValue `0.3` */
  readonly minFactor: number;
  /** First overload (529) pause of the group; `PROMPTQ_RETRY_BASE_MS` sets it with the job backoff. @defaultValue `1000` */
  readonly overloadBaseMs: number;
  /** Longest overload pause of the group; `PROMPTQ_RETRY_MAX_MS` sets it with the job backoff. @defaultValue `60000` */
  readonly overloadMaxMs: number;
  /**
   * Longest overload pause once the group probes: after a 529 pause one request (the probe) tries
   * the API and the others wait for its answer, so the pause only bounds how late the group resumes
   * after the overload ends. At most `overloadMaxMs`. @defaultValue `4000`
   */
  readonly overloadProbeMaxMs: number;
  /** Added to the pace multiplier per success (additive increase, up to 1). @defaultValue `0.01` */
  readonly recoveryStep: number;
  /** Added to the burst per success, in ms (up to `burstMs`). @defaultValue `20` */
  readonly burstRecoveryMs: number;
  /** The pace multiplier is multiplied by this on a 429 (multiplicative decrease). @defaultValue `0.8` */
  readonly decreaseFactor: number;
  /** The burst is multiplied by this on a 429 (a hidden short-interval limit wants smaller bursts). @defaultValue `0.6` */
  readonly burstDecrease: number;
  /** Smallest burst, in ms of refill. @defaultValue `100` */
  readonly minBurstMs: number;
  /** How long a 429 without `retry-after` pauses the group. @defaultValue `1000` */
  readonly pauseWithoutRetryAfterMs: number;
  /** Weight of a new sample in the moving average of real / estimated input tokens. @defaultValue `0.2` */
  readonly inRatioWeight: number;
  /** Header-less endpoints: the request limit (per minute) assumed after the first success. @defaultValue `60` */
  readonly learnStartRpm: number;
  /** Header-less: requests per minute added to the learned limit per success until the first 429 (the rate doubles in well under a second's worth of successes). @defaultValue `60` */
  readonly learnSlowStartStep: number;
  /** Header-less: requests per minute added per success after the first 429. @defaultValue `0.3` */
  readonly learnStep: number;
  /** Header-less: after a 429 the learned limit becomes at most the rate the API took over the last window × this. @defaultValue `0.95` */
  readonly learnDecrease: number;
  /** The sliding window of the success and admission meters (a learned limit's correction, its hold after a 429, a cautious pace). @defaultValue `5000` */
  readonly learnWindowMs: number;
  /**
   * Announced limits: a 429 episode this soon after the last one makes the group cautious for this
   * long (pace at the measured success rate, recover by `cautiousRecoveryStep`).
   * @defaultValue `30000`
   */
  readonly cautionMs: number;
  /** Added to the pace multiplier per success while cautious. @defaultValue `0.0005` */
  readonly cautiousRecoveryStep: number;
  /**
   * Announced limits: the pace follows the trend of the API's remainders against the group's own
   * bucket when they disagree by at least this share of the announced limit (the headers
   * understate: faster; overstate: slower). @defaultValue `0.05`
   */
  readonly trustStep: number;
  /** The highest pace multiplier the remainders may teach (headers understating ×1/3). @defaultValue `3` */
  readonly trustMax: number;
  /**
   * A worker holds a job's slot while its permit is at most this far; further, it hands the job
   * back delayed without spending an attempt.
   * @defaultValue `1000`
   */
  readonly holdMs: number;
  /**
   * Deferred jobs come back at most this long after now: a group's line longer than this starts
   * over (its jobs come back early, to be handed back again). @defaultValue `60000`
   */
  readonly maxDeferMs: number;
  /** How long a cacheable prefix counts as cached after the API last wrote or read it. @defaultValue `300000` */
  readonly cacheTtlMs: number;
  /**
   * Cache-aware order: a call whose cacheable prefix another call (of any process) is writing waits
   * this long at most for that answer to begin, then reads the prefix instead of writing it again;
   * 0 = no order, every call goes at once (`PROMPTQ_CACHE_WRITE_WAIT_MS`).
   * @defaultValue `10000`
   */
  readonly cacheWriteWaitMs: number;
  /** Cacheable prefixes remembered per process (the oldest is forgotten first). @defaultValue `10000` */
  readonly cachePrefixesKept: number;
  /** How long a process reuses its read of a group's state across acquisitions. @defaultValue `100` */
  readonly stateReadMs: number;
  /** A call's rate-limit headers are learned at once when it is still running this long after them. @defaultValue `1000` */
  readonly headersEarlyMs: number;
}

/** The adaptive limiter (limiter/limiter.ts). */
export interface LimiterConfig {
  readonly ceilings: LimitCeilings;
  readonly tuning: LimiterTuning;
  /** A group a process has not used this long is dropped from its memory and its reads. @defaultValue `600000` */
  readonly idleGroupMs: number;
}
