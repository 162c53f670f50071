/**
 * The worker's events: every side effect of processing a job (metrics, the attempt log, rollups,
 * tenant counters, pausing on a spend limit) leaves through here, and each concern subscribes in its
 * own file. The worker core only decides and saves the record.
 *
 * Listeners run in the order they were added; a listener's promise is awaited before the next one
 * runs and before the job is handed back to BullMQ, so what they write is in place when a waiter
 * sees the job finish. A listener that throws is reported and skipped: it never changes the job's
 * outcome.
 */
import type { JobRequest } from '../core/job.js';
import type { JobRecord } from '../core/record.js';
import type { AttemptOutcome, BudgetOutcome, FailedOutcome, JobOutcome } from './outcome.js';

/** What every event says about its job. */
export interface JobEvent {
  jobId: string;
  /** The model the job asked for (its metric label). */
  model: string;
  /** The record as it stands now: saved, except at `started` (saved with the first attempt). */
  record: JobRecord;
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

/** A call its tenant's budget refused: the job waits (`over-budget`) or fails (`budget-exceeded`). */
export interface BudgetEvent extends JobEvent {
  request: JobRequest;
  outcome: BudgetOutcome;
}

/** A call over its tenant's per-minute quota: the job waits until it fits. */
export interface QuotaEvent extends JobEvent {
  request: JobRequest;
  outcome: Extract<JobOutcome, { kind: 'over-quota' }>;
}

/** A job handed back because its model group has no permit soon. */
export interface DeferredEvent extends JobEvent {
  untilMs: number;
  reason: 'paused' | 'pacing' | 'queued';
}

/** Event name → listener, as BullMQ's `WorkerListener`. */
export interface WorkerListener {
  started: (e: StartedEvent) => void;
  attempt: (e: AttemptEvent) => void;
  completed: (e: CompletedEvent) => void;
  failed: (e: FailedEvent) => void;
  finished: (e: FinishedEvent) => void | Promise<void>;
  /** Awaited before the job is put back, so the queue is paused by the time it is. */
  spendLimit: (e: SpendLimitEvent) => void | Promise<void>;
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
}

export type WorkerEventName = keyof WorkerListener;
export type WorkerEventOf<E extends WorkerEventName> = Parameters<WorkerListener[E]>[0];

/** Called when a listener throws; the event goes on to the other listeners. */
export type ListenerErrorHandler = (event: WorkerEventName, error: Error, payload: { jobId: string }) => void;

/** Where subscribers attach (a {@link WorkerEvents} or a `PromptWorker`). */
export interface WorkerEventSource {
  on<E extends WorkerEventName>(event: E, listener: WorkerListener[E]): unknown;
}

type AnyListener = (payload: never) => void | Promise<void>;

/** A typed emitter whose `emit` waits for asynchronous listeners. */
export class WorkerEvents implements WorkerEventSource {
  readonly #listeners = new Map<WorkerEventName, AnyListener[]>();
  readonly #onError: ListenerErrorHandler;

  /** @param onError where a failing listener is reported. @defaultValue a Node process warning */
  constructor(
    onError: ListenerErrorHandler = (event, err) =>
      process.emitWarning(`worker '${event}' listener failed: ${err.message}`),
  ) {
    this.#onError = onError;
  }

  on<E extends WorkerEventName>(event: E, listener: WorkerListener[E]): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener as AnyListener);
    this.#listeners.set(event, list);
    return this;
  }

  off<E extends WorkerEventName>(event: E, listener: WorkerListener[E]): this {
    const list = this.#listeners.get(event);
    const i = list?.indexOf(listener as AnyListener) ?? -1;
    if (i >= 0) list?.splice(i, 1);
    return this;
  }

  async emit<E extends WorkerEventName>(event: E, payload: WorkerEventOf<E>): Promise<void> {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        const r = (listener as (p: WorkerEventOf<E>) => void | Promise<void>)(payload);
        if (r instanceof Promise) await r;
      } catch (err) {
        this.#onError(event, err instanceof Error ? err : new Error(String(err)), payload);
      }
    }
  }
}
