/**
 * What processing a job came to: one closed union, decided by the worker (worker/outcome.ts), acted
 * on in one switch (worker/finish.ts), and carried by the events (events.ts) — so it lives where the
 * worker, the Batches route and every subscriber may read it.
 */
import type { ValidationError } from '../core/job.js';
import type { AttemptResult, Decision } from '../providers/provider.js';
import type { BudgetAdmission } from '../store/budget-store.js';

/** What processing a job came to. */
export type JobOutcome =
  /** The API answered with a message; `priced` is false when the model has no known price (cost null). */
  | { kind: 'completed'; result: AttemptResult; priced: boolean }
  /**
   * A 429 within `maxRateLimited`: the limiter paused the model group, the job asks for a permit
   * again in the same processing. The one outcome that does not end it; spends no attempt.
   */
  | { kind: 'rate_limited'; decision: Decision }
  /** Worth another attempt later: the job is delayed by `delayMs` (retry-after or backoff). */
  | { kind: 'retry'; decision: Decision; delayMs: number }
  /** A spend limit: the queue is paused and the job put back until someone raises the limit. */
  | { kind: 'spend_limit'; decision: Decision }
  /** Failed for good; `message` is the job's failure reason. */
  | { kind: 'failed'; decision: Decision; message: string }
  /** The job data did not validate: failed for good before any attempt. */
  | { kind: 'invalid'; error: ValidationError }
  /** Cut short by shutdown: back to the queue, no attempt spent. */
  | { kind: 'returned' }
  /**
   * Over its tenant's budget, the tenant waiting for room (`on_exceed: wait`): put back for
   * `delayMs`, no attempt spent, no call made.
   */
  | { kind: 'over_budget'; refusal: BudgetRefusal; delayMs: number }
  /** Over its tenant's budget with `on_exceed: fail`: failed for good (`budget_exceeded`), no call made. */
  | { kind: 'budget_exceeded'; refusal: BudgetRefusal; message: string }
  /** Over its tenant's per-minute quota: put back until it fits, no attempt spent, no call made. */
  | { kind: 'over_quota'; tenant: string; resource: 'requests' | 'tokens'; delayMs: number }
  /**
   * No permit for the job's model group soon (paused, or enough of its calls already waiting): the
   * job is delayed until `untilMs`, no attempt spent, and its worker slot goes to another job.
   */
  | { kind: 'deferred'; untilMs: number; reason: 'paused' | 'pacing' | 'queued' };

/** Which budget refused a call, and its figures. */
export type BudgetRefusal = Extract<BudgetAdmission, { kind: 'over' }> & {
  tenant: string;
  /** The worst-case cost of the refused call (USD; 0 when it has none). */
  costUsd: number;
  /** Why the call has no price (with `unpriced`): the model or the server tool, named. */
  what?: string;
};

export type OutcomeKind = JobOutcome['kind'];
/** The outcomes that end a processing: what `finish` acts on. */
export type FinalOutcome = Exclude<JobOutcome, { kind: 'rate_limited' }>;
/** The outcomes of a call its tenant's budget refused (no API attempt). */
export type BudgetOutcome = Extract<JobOutcome, { kind: 'over_budget' | 'budget_exceeded' }>;
/** What an attempt that got an answer from the API came to. */
export type AttemptOutcome = Exclude<
  JobOutcome,
  { kind: 'invalid' | 'returned' | 'over_quota' | 'deferred' } | BudgetOutcome
>;
/** The outcomes that fail a job for good. */
export type FailedOutcome = Extract<JobOutcome, { kind: 'failed' | 'invalid' | 'budget_exceeded' }>;
/** The outcomes after which the job tries again: `delayMs` later, or after its group's pause. */
export type RetryOutcome = Extract<JobOutcome, { kind: 'retry' | 'rate_limited' }>;
