/**
 * Every default of promptq in one place: those of the environment variables (loadConfig in
 * config.ts falls back to them), then the fixed behaviour no variable sets.
 */
import type { PromptqConfig } from './config.js';

/** Defaults no environment variable sets: fixed behaviour, named here so that it has one home. */
export interface FixedDefaults {
  /** BullMQ's key prefix, when none is given. */
  readonly prefix: string;
  /** Times a job may be found stalled (its worker died or froze past the lock) before BullMQ fails it. */
  readonly maxStalledCount: number;
  /** Bounds of the concurrency the worker chooses itself when PROMPTQ_CONCURRENCY is unset. */
  readonly adaptiveConcurrency: { readonly min: number; readonly max: number };
  /** How often the worker reconsiders its concurrency (adaptive concurrency only). */
  readonly concurrencyTuneIntervalMs: number;
  /**
   * A tenant with no record (no budget, no quota) is remembered this long by each worker, whose calls
   * for it skip the budget round trip meanwhile: a tenant added while its jobs run is enforced
   * within this long.
   */
  readonly tenantUnknownCacheMs: number;
  /** A job that met a spend limit is put back this long (the paused queue holds it until resumed). */
  readonly spendLimitDelayMs: number;
  /** Random extra wait on top of an API `retry-after`, so workers do not all return in one millisecond. */
  readonly retryAfterJitterMs: number;
  /** An over-budget job whose room is held by calls in flight asks again after about this long. */
  readonly budgetHeldRetryMs: number;
  /** An over-budget job whose budget is spent asks again after about this long (or at the period's end). */
  readonly budgetSpentRetryMs: number;
  /** A budget hold left by a worker that died stops counting after the request timeout plus this. */
  readonly budgetHoldGraceMs: number;
}

/**
 * Every default in one place: those of the environment variables, then those of jobs and the
 * enqueue path that no variable sets.
 */
export const defaults = {
  redisUrl: 'redis://127.0.0.1:6379',
  redisMode: 'single',
  queue: 'prompts',
  host: '127.0.0.1',
  port: 3000,
  concurrency: 16,
  maxAttempts: 8,
  maxRateLimited: 50,
  fallbackAfterOverloaded: 2,
  targetUtilization: 0.995,
  retryBaseMs: 1000,
  retryMaxMs: 60_000,
  requestTimeoutMs: 600_000,
  shutdownTimeoutMs: 30_000,
  /**
   * After `PROMPTQ_SHUTDOWN_TIMEOUT_MS`, this long to return jobs and close connections; then the
   * process exits whatever Redis and the API do (jobs it could not return are taken over by
   * another worker once their lock expires).
   */
  shutdownGraceMs: 5_000,
  /** A repeated error (a Redis outage) is logged once, then summarised this often (core/log-repeats.ts). */
  logRepeatIntervalMs: 10_000,
  /**
   * Events one listener may have waiting or running off the job's path (events/emitter.ts); past
   * this the worker waits for room before handing the job back.
   */
  eventQueueCapacity: 1000,
  /** A limiter group a process has not used this long is dropped from its memory and its reads. */
  limiterIdleGroupMs: 10 * 60_000,
  /** Most concurrent `?wait=` long polls (and `PromptQueue.wait` calls) per process. */
  maxWaiters: 1000,
  /** `PROMPTQ_MODELS=any`: every model name is accepted at enqueue. */
  models: { kind: 'any' },
  logPrompts: false,
  logLevel: 'info',
  maxTenantLabels: 50,
  maxModelLabels: 50,
  keepCompletedSeconds: 7 * 24 * 3600,
  keepFailedSeconds: 30 * 24 * 3600,
  maxTokensCap: 128_000,
  lockDurationMs: 60_000,
  stalledIntervalMs: 30_000,
  boardReadOnly: false,
  prefix: 'bull',
  maxStalledCount: 2,
  adaptiveConcurrency: { min: 8, max: 256 },
  concurrencyTuneIntervalMs: 2000,
  tenantUnknownCacheMs: 2000,
  spendLimitDelayMs: 1000,
  retryAfterJitterMs: 250,
  budgetHeldRetryMs: 2000,
  budgetSpentRetryMs: 60_000,
  budgetHoldGraceMs: 10 * 60_000,

  /** Priority of a job that names none, so that explicit priorities 1-99 go before it. */
  priority: 100,
  /** Largest user priority (BullMQ's 2^21 is shared with the tenant rank: see core/fairness.ts). */
  maxPriority: 1000,
  /** Priority of backfilled lines that name none: behind interactive traffic. */
  backfillPriority: 500,
  /** A waiting request re-reads its job at least this often, events or not (producer/waiters.ts). */
  waitRecheckMs: 30_000,
  /** The job-events subscription of a process closes after this long without a waiting request. */
  waitLingerMs: 30_000,
  /** Most jobs in one `POST /v1/jobs/batch`. */
  maxBatch: 1000,
  /** Most messages in one job. */
  maxMessages: 1000,
  /** Longest string anywhere in a job body, in characters. */
  maxStringLength: 2_000_000,
  /** How long a caller-given job id stays claimed while it is being added (idempotent enqueue). */
  claimTtlMs: 30_000,
  /** BullMQ-level attempts per job: they cover infrastructure faults; API errors are promptq's retries. */
  infraAttempts: 3,
  /** First BullMQ-level backoff (exponential). */
  infraBackoffMs: 1000,
  /** `backfill --via auto` sends files with at least this many jobs through the Message Batches API. */
  batchesAutoMinJobs: 1000,
  /** Requests per Message Batch a backfill submits (the API allows 100,000). */
  batchSize: 10_000,
} as const satisfies Partial<PromptqConfig> & FixedDefaults & Record<string, unknown>;
