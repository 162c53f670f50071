/**
 * The worker core's second half: acting on a {@link FinalOutcome}. The record is saved, the events go
 * out, and BullMQ is told what became of the job — delayed (handed back, retried, deferred, over
 * quota or budget), completed or failed. Every outcome ends here, and nowhere else.
 */
import type { Span } from '@opentelemetry/api';
import { DelayedError, UnrecoverableError } from 'bullmq';
import type { JobRequest } from '../core/job.js';
import type { JobRecord } from '../core/record.js';
import type { JobResult } from '../core/result.js';
import { type TraceCarrierOpts, withSpan } from '../core/trace.js';
import type { FinalOutcome, RetryOutcome } from '../events/outcome.js';
import type { EventSink } from '../events/types.js';
import { LockLostError } from '../store/record-store.js';
import type { RecordPort } from './records.js';

/** The part of a BullMQ `Job` the core uses. */
export interface JobHandle {
  readonly id?: string | undefined;
  readonly data: unknown;
  /** Enqueue time, ms. */
  readonly timestamp: number;
  /** Times the job was made active, this time included (BullMQ's `ats`); unknown: assume several. */
  readonly attemptsStarted?: number;
  /** `telemetry.metadata`: the trace context the job was enqueued in (worker/tracing.ts). */
  readonly opts: { priority?: number | undefined } & TraceCarrierOpts;
  /** BullMQ's priority as it stands (a job normalised on arrival has it here, not in `opts`). */
  readonly priority?: number | string | undefined;
  moveToDelayed(timestamp: number, token?: string): Promise<void>;
}

/** One processing of one job. */
export interface Run {
  job: JobHandle;
  /** The BullMQ job id: where the record is kept. */
  bullId: string;
  /** The id the events (logs, rollups) show: the caller's (store/keys.ts). */
  jobId: string;
  token: string | undefined;
  record: JobRecord;
  /** Absent when the job data did not validate. */
  request: JobRequest | undefined;
  model: string;
  /** The span of the current API attempt: active while its `attempt` event is emitted. */
  span?: Span | undefined;
  /** How long the current API attempt took, request sent → answer (or error) in hand. */
  attemptMs?: number | undefined;
  /** The model the current API attempt called: the job's, or the fallback model it had moved to. */
  attemptModel?: string | undefined;
}

/** What finishing needs: where records go, who hears of it. */
export interface FinishPorts {
  records: RecordPort;
  events: EventSink;
  /** A job that met a spend limit is put back this long (`config.worker`). */
  spendLimitDelayMs: number;
}

export const iso = (ms: number) => new Date(ms).toISOString();

type PutBack = Extract<
  FinalOutcome,
  { kind: 'returned' | 'deferred' | 'retry' | 'spend_limit' | 'over_quota' | 'over_budget' }
>;
type ForGood = Exclude<FinalOutcome, PutBack>;

/** The one place an outcome is acted on: the record saved, the events emitted, BullMQ told. */
export async function finish(ports: FinishPorts, run: Run, outcome: FinalOutcome): Promise<JobResult> {
  switch (outcome.kind) {
    case 'returned':
    case 'deferred':
    case 'retry':
    case 'spend_limit':
    case 'over_quota':
    case 'over_budget':
      await putBack(ports, run, outcome);
      throw new DelayedError();
    case 'completed':
    case 'failed':
    case 'budget_exceeded':
    case 'invalid':
      return finishForGood(ports, run, outcome);
  }
}

/** The attempt's events (with its span active): `attempt`, then `retrying` when the job tries again. */
export async function emitAttempt(
  events: EventSink,
  run: Run,
  outcome: Extract<FinalOutcome, { kind: 'completed' | 'failed' | 'retry' | 'spend_limit' }> | RetryOutcome,
): Promise<void> {
  const { jobId, model, record, attemptMs, attemptModel } = run;
  // Undefined only for 'invalid', which made no attempt.
  const request = run.request as JobRequest;
  await withSpan(run.span, async () => {
    await events.emit('attempt', {
      jobId,
      model,
      record,
      request,
      outcome,
      durationMs: attemptMs,
      attemptModel,
    });
    if (outcome.kind !== 'retry' && outcome.kind !== 'rate_limited') return;
    const delayMs = outcome.kind === 'retry' ? outcome.delayMs : null;
    await events.emit('retrying', {
      jobId,
      model,
      record,
      request,
      outcome,
      reason: outcome.decision.reason,
      delayMs,
    });
  });
}

/** Hand the job back to BullMQ, delayed: no attempt spent unless the outcome was an attempt's. */
async function putBack(ports: FinishPorts, run: Run, outcome: PutBack): Promise<void> {
  const { job, bullId, jobId, token, record, model } = run;
  const { events } = ports;
  const request = run.request as JobRequest;
  // Absolute (a deferral), else `delayMs` from when BullMQ is told.
  let until: number | undefined;
  let delayMs = 0;
  switch (outcome.kind) {
    case 'returned':
      await events.emit('returned', { jobId });
      break;
    case 'deferred':
      // Nothing to save: the record is as last saved (a job is started at its first permit).
      await events.emit('deferred', {
        jobId,
        model,
        record,
        untilMs: outcome.untilMs,
        reason: outcome.reason,
      });
      until = outcome.untilMs;
      break;
    case 'retry':
      await ports.records.save(bullId, record);
      await emitAttempt(events, run, outcome);
      delayMs = outcome.delayMs;
      break;
    case 'spend_limit': {
      await ports.records.save(bullId, record);
      await emitAttempt(events, run, outcome);
      const { errorCode, message } = outcome.decision;
      await events.emit('spendLimit', {
        jobId,
        model,
        record,
        errorCode: errorCode ?? 'spend_limit',
        message,
      });
      delayMs = ports.spendLimitDelayMs;
      break;
    }
    case 'over_quota':
      await events.emit('quota', { jobId, model, record, request, outcome });
      delayMs = outcome.delayMs;
      break;
    case 'over_budget':
      await ports.records.save(bullId, record);
      await events.emit('budget', { jobId, model, record, request, outcome });
      delayMs = outcome.delayMs;
      break;
  }
  await job.moveToDelayed(until ?? Date.now() + delayMs, token);
}

/** Completed or failed for good: the final record saved (under the job's lock), then the events. */
async function finishForGood(ports: FinishPorts, run: Run, outcome: ForGood): Promise<JobResult> {
  const { job, bullId, jobId, token, record, model } = run;
  const { events } = ports;
  const now = Date.now();
  record.finished_at = iso(now);
  record.total_ms = now - job.timestamp;
  try {
    await ports.records.saveFinal(bullId, record, token);
  } catch (err) {
    // A worker that froze past its lock and woke after another took the job over records,
    // counts and reports nothing.
    if (err instanceof LockLostError) await events.emit('lockLost', { jobId });
    throw err;
  }
  const request = run.request as JobRequest;
  if (outcome.kind === 'budget_exceeded') {
    await events.emit('budget', { jobId, model, record, request, outcome });
  } else if (outcome.kind !== 'invalid') {
    await emitAttempt(events, run, outcome);
  }
  if (outcome.kind === 'completed') {
    await events.emit('completed', { jobId, model, record, request });
    await events.emit('finished', { jobId, status: 'completed', record });
    return { message: outcome.result.message, record };
  }
  await events.emit('failed', { jobId, model, record, request: run.request, outcome });
  await events.emit('finished', { jobId, status: 'failed', record });
  throw new UnrecoverableError(
    outcome.kind === 'invalid' ? `invalid job: ${outcome.error.message}` : outcome.message,
  );
}
