/**
 * What an attempt's answer means for the job: one typed outcome, and the record updated to match.
 * Pure decisions (no Redis, no BullMQ): the worker's finish path acts on the outcome, and the unit
 * tests check the policy here directly.
 */
import { type BackoffPolicy, backoffMs, type Decision } from '../anthropic/classify.js';
import type { PriceTable } from '../anthropic/pricing.js';
import type { JobRecord, ValidationError } from '../core/job.js';
import type { AttemptResult } from './attempt.js';

/** What processing a job came to. */
export type JobOutcome =
  /** The API answered with a message; `priced` is false when the model has no known price (cost 0). */
  | { kind: 'completed'; result: AttemptResult; priced: boolean }
  /**
   * A 429 within `maxRateLimited`: the limiter paused the model group, the job asks for a permit
   * again in the same processing. The one outcome that does not end it; spends no attempt.
   */
  | { kind: 'rate-limited'; decision: Decision }
  /** Worth another attempt later: the job is delayed by `delayMs` (retry-after or backoff). */
  | { kind: 'retry'; decision: Decision; delayMs: number }
  /** A spend limit: the queue is paused and the job put back until someone raises the limit. */
  | { kind: 'spend-limit'; decision: Decision }
  /** Failed for good; `message` is the job's failure reason. */
  | { kind: 'failed'; decision: Decision; message: string }
  /** The job data did not validate: failed for good before any attempt. */
  | { kind: 'invalid'; error: ValidationError }
  /** Cut short by shutdown: back to the queue, no attempt spent. */
  | { kind: 'returned' }
  /**
   * No permit for the job's model group soon (paused, or enough of its calls already waiting): the
   * job is delayed until `untilMs`, no attempt spent, and its worker slot goes to another job.
   */
  | { kind: 'deferred'; untilMs: number; reason: 'paused' | 'pacing' | 'queued' };

export type OutcomeKind = JobOutcome['kind'];
/** The outcomes that end a processing: what `finish` acts on. */
export type FinalOutcome = Exclude<JobOutcome, { kind: 'rate-limited' }>;
/** What an attempt that got an answer from the API came to. */
export type AttemptOutcome = Exclude<JobOutcome, { kind: 'invalid' | 'returned' | 'deferred' }>;
/** The outcomes that fail a job for good. */
export type FailedOutcome = Extract<JobOutcome, { kind: 'failed' | 'invalid' }>;

export interface RetryPolicy {
  /** API attempts per job (429s not counted). */
  maxAttempts: number;
  /** 429s a job may meet before it fails. */
  maxRateLimited: number;
  backoff: BackoffPolicy;
  /** Jitter source. */
  random: () => number;
}

/**
 * A failed attempt: update the record (status, error, the 429 count, retries by reason) and decide.
 * 429s do not spend the attempt budget; they have their own bound.
 */
export function judgeError(record: JobRecord, d: Decision, policy: RetryPolicy): AttemptOutcome {
  record.status_code = d.statusCode;
  record.error_type = d.errorType;
  record.request_id = d.requestId;
  if (d.outcome === 'rate_limited') record.rate_limited += 1;
  if (d.spendLimit) return { kind: 'spend-limit', decision: d };
  if (d.outcome === 'rate_limited') {
    if (record.rate_limited > policy.maxRateLimited) {
      const message = `rate limited ${record.rate_limited} times (the bound is ${policy.maxRateLimited}): ${d.message}`;
      return { kind: 'failed', decision: d, message };
    }
    countRetry(record, d.reason);
    return { kind: 'rate-limited', decision: d };
  }
  if (d.retry && record.attempts - record.rate_limited < policy.maxAttempts) {
    const retriesSoFar = Object.values(record.retries).reduce((a, b) => a + b, 0);
    const delayMs = backoffMs(d, retriesSoFar + 1, policy.random, policy.backoff);
    countRetry(record, d.reason);
    return { kind: 'retry', decision: d, delayMs };
  }
  const what = `${d.errorType}${d.statusCode ? ` (${d.statusCode})` : ''}: ${d.message}`;
  const message = d.retry ? `gave up after ${record.attempts} attempts: ${what}` : what;
  return { kind: 'failed', decision: d, message };
}

/** A successful attempt: usage, timings, status and cost into the record. */
export function judgeSuccess(
  record: JobRecord,
  r: AttemptResult,
  model: string,
  prices: Pick<PriceTable, 'cost' | 'lookup'>,
): AttemptOutcome {
  const u = r.message.usage;
  record.input_tokens = u.input_tokens;
  record.output_tokens = u.output_tokens;
  record.cache_creation_input_tokens = u.cache_creation_input_tokens ?? 0;
  record.cache_read_input_tokens = u.cache_read_input_tokens ?? 0;
  record.latency_ms = r.latencyMs;
  record.ttft_ms = r.ttftMs;
  record.connect_ms = r.network ? Math.round(r.network.connect_ms ?? 0) : null;
  record.ttfb_ms = r.network?.ttfb_ms == null ? null : Math.round(r.network.ttfb_ms);
  record.status_code = r.statusCode;
  record.error_type = null;
  record.request_id = r.requestId;
  record.cost_usd = prices.cost(model, record);
  return { kind: 'completed', result: r, priced: prices.lookup(model) !== undefined };
}

function countRetry(record: JobRecord, reason: string): void {
  record.retries[reason] = (record.retries[reason] ?? 0) + 1;
}
