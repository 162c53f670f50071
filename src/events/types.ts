/**
 * Every event promptq emits, by name, with its payload: a job's life (queued → started → attempts,
 * retries and waits → completed or failed → finished), from the live worker and the Message Batches
 * route alike, and the limiter's view of each model group. One typed source (emitter.ts) carries
 * them all; metrics, logs, rollups and later webhooks and event streams subscribe to it.
 */
import type { JobRequest } from '../core/job.js';
import type { Resource } from '../core/rate-limits.js';
import type { JobRecord } from '../core/record.js';
import type { ApiStreamEvent } from '../core/result.js';
import type { RateLimitSignals } from '../providers/provider.js';
import type { AttemptOutcome, BudgetOutcome, FailedOutcome, JobOutcome, RetryOutcome } from './outcome.js';

/** What every event of a running job says about it. */
export interface JobEvent {
  jobId: string;
  /** The model the job asked for (its metric label). */
  model: string;
  /** The record as it stands now: saved, except at `started` (saved with the first attempt). */
  record: JobRecord;
}

/** A job entered the queue (or, on the Batches route, its batch was accepted). */
export interface QueuedEvent {
  jobId: string;
  model: string;
  request: JobRequest;
}

/** The first attempt of a job is about to start; `record.queue_wait_ms` is how long it waited. */
export interface StartedEvent extends JobEvent {
  request: JobRequest;
}

/** An API attempt got its answer (every attempt but one cut short by shutdown). */
export interface AttemptEvent extends JobEvent {
  request: JobRequest;
  outcome: AttemptOutcome;
  /** Wall time of the attempt: request sent → answer or error in hand (the limiter wait excluded). */
  durationMs?: number | undefined;
  /**
   * The model this attempt called: the job's, or a fallback model (`fallback_models`). Not
   * `record.served_model` for a failed attempt: a fallback decided on its answer has moved that on
   * to the next model already. @defaultValue `record.served_model`, else `model`
   */
  attemptModel?: string | undefined;
}

/** The job will try again: `delayMs` from now, or (`rate_limited`) once its model group's pause ends. */
export interface RetryingEvent extends JobEvent {
  request: JobRequest;
  outcome: RetryOutcome;
  /** Retry reason (`rate_limited`, `overloaded`, `server_error`, …: the `reason` label). */
  reason: string;
  /** `null`: it waits in this processing for its group's pause. */
  delayMs: number | null;
}

export interface CompletedEvent extends JobEvent {
  request: JobRequest;
}

export interface FailedEvent extends JobEvent {
  /** Absent when the job data did not validate. */
  request: JobRequest | undefined;
  outcome: FailedOutcome;
}

/** A job that has finished for good (completed or failed), after its record was saved. */
export interface FinishedEvent {
  jobId: string;
  status: 'completed' | 'failed';
  record: JobRecord;
}

export interface SpendLimitEvent extends JobEvent {
  /** The API's `error_code` (e.g. `enforced_spend_limit_reached`). */
  errorCode: string;
  message: string;
}

/** A call its tenant's budget refused: the job waits (`over_budget`) or fails (`budget_exceeded`). */
export interface BudgetEvent extends JobEvent {
  request: JobRequest;
  outcome: BudgetOutcome;
}

/** A call over its tenant's per-minute quota: the job waits until it fits. */
export interface QuotaEvent extends JobEvent {
  request: JobRequest;
  outcome: Extract<JobOutcome, { kind: 'over_quota' }>;
}

/** A job handed back because its model group has no permit soon. */
export interface DeferredEvent extends JobEvent {
  untilMs: number;
  reason: 'paused' | 'pacing' | 'queued';
}

/** One event of the model's answer stream, as it arrives (text delta, tool input, thinking, …). */
export interface StreamEventEvent {
  jobId: string;
  /** The job's tenant: ids are per tenant, so the job is (tenant, jobId). */
  tenant: string | undefined;
  event: ApiStreamEvent;
}

/** What a model group's answers announced of its limits. */
export interface LimitSignalsEvent {
  group: string;
  signals: RateLimitSignals;
}

/** The limiter paused a model group: nobody calls it for `pauseMs`. */
export interface GroupPausedEvent {
  group: string;
  reason: 'rate_limited' | 'overloaded';
  pauseMs: number;
}

/** A model group's limits were discovered (`before` empty) or changed: per minute, by resource. */
export interface GroupLimitsEvent {
  group: string;
  limits: Partial<Record<Resource, number>>;
  before: Partial<Record<Resource, number>>;
}

/** A model group's pace after a call settled (1: the limits as announced; below: slowed after 429s). */
export interface GroupPaceEvent {
  group: string;
  factor: number;
}

/**
 * Event name → listener, as BullMQ's `WorkerListener`. A listener may be asynchronous (return a
 * promise): it then runs off the job's path unless subscribed as blocking (emitter.ts).
 */
export interface EventListeners {
  queued: (e: QueuedEvent) => void;
  started: (e: StartedEvent) => void;
  attempt: (e: AttemptEvent) => void;
  retrying: (e: RetryingEvent) => void;
  completed: (e: CompletedEvent) => void;
  failed: (e: FailedEvent) => void;
  finished: (e: FinishedEvent) => void;
  /** Its pause listener is blocking: the queue is paused by the time the job is put back. */
  spendLimit: (e: SpendLimitEvent) => void;
  /** A tenant's budget refused a call (before `failed`, when the job fails for it). */
  budget: (e: BudgetEvent) => void;
  /** A tenant's quota put a job back until it fits. */
  quota: (e: QuotaEvent) => void;
  /**
   * The job's model group has no permit soon: the job was delayed until `untilMs` (no attempt spent)
   * so that its worker slot serves another job.
   */
  deferred: (e: DeferredEvent) => void;
  /** A job went back to the queue because the worker is shutting down. */
  returned: (e: { jobId: string }) => void;
  /** Another worker took the job over while this one froze: its late result is dropped. */
  lockLost: (e: { jobId: string }) => void;
  /** The model's stream events while an attempt runs (not awaited by the call: off its path). */
  stream: (e: StreamEventEvent) => void;
  limitSignals: (e: LimitSignalsEvent) => void;
  groupPaused: (e: GroupPausedEvent) => void;
  groupLimits: (e: GroupLimitsEvent) => void;
  groupPace: (e: GroupPaceEvent) => void;
}

export type EventName = keyof EventListeners;
export type EventOf<E extends EventName> = Parameters<EventListeners[E]>[0];

/** Options of a subscription. */
export interface ListenOptions {
  /**
   * Run on the job's path: `emit` waits for it, so the job is handed back to BullMQ only after it
   * is done. Only for what must be in place by then (the spend-limit pause). Other listeners run off
   * the path. @defaultValue `false`
   */
  blocking?: boolean;
}

/** Where subscribers attach (a {@link PromptqEvents} or a `PromptWorker`). */
export interface EventSource {
  on<E extends EventName>(event: E, listener: EventListeners[E], options?: ListenOptions): unknown;
  /** Run `hook` while the source waits for its listeners to finish (a shutdown): see emitter.ts. */
  onDrain?(hook: () => void): unknown;
}

/** Where events go in (the worker, the Batches route, the producer, the limiter emit into it). */
export interface EventSink {
  emit<E extends EventName>(event: E, payload: EventOf<E>): Promise<void>;
}
