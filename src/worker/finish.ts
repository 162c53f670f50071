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
import { LockLostError } from '../store/record-store.js';
import type { WorkerEvents } from './events.js';
import type { FinalOutcome } from './outcome.js';
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
}

/** What finishing needs: where records go, who hears of it. */
export interface FinishPorts {
  records: RecordPort;
  events: WorkerEvents;
  /** A job that met a spend limit is put back this long (`config.worker`). */
  spendLimitDelayMs: number;
}

export const iso = (ms: number) => new Date(ms).toISOString();

/** The one place an outcome is acted on: the record saved, the events emitted, BullMQ told. */
export async function finish(ports: FinishPorts, run: Run, outcome: FinalOutcome): Promise<JobResult> {
  const { job, bullId, jobId, token, record, model } = run;
  const events = ports.events;
  // Undefined only for 'invalid', which made no attempt.
  const request = run.request as JobRequest;
  switch (outcome.kind) {
    case 'returned':
      await events.emit('returned', { jobId });
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    case 'deferred':
      // Nothing to save: the record is as last saved (a job is started at its first permit).
      await events.emit('deferred', {
        jobId,
        model,
        record,
        untilMs: outcome.untilMs,
        reason: outcome.reason,
      });
      await job.moveToDelayed(outcome.untilMs, token);
      throw new DelayedError();
    case 'retry':
      await ports.records.save(bullId, record);
      await withSpan(run.span, () =>
        events.emit('attempt', { jobId, model, record, request, outcome, durationMs: run.attemptMs }),
      );
      await job.moveToDelayed(Date.now() + outcome.delayMs, token);
      throw new DelayedError();
    case 'spend-limit': {
      await ports.records.save(bullId, record);
      await withSpan(run.span, () =>
        events.emit('attempt', { jobId, model, record, request, outcome, durationMs: run.attemptMs }),
      );
      const { errorCode, message } = outcome.decision;
      await events.emit('spendLimit', {
        jobId,
        model,
        record,
        errorCode: errorCode ?? 'spend_limit',
        message,
      });
      await job.moveToDelayed(Date.now() + ports.spendLimitDelayMs, token);
      throw new DelayedError();
    }
    case 'over-quota':
      await events.emit('quota', { jobId, model, record, request, outcome });
      await job.moveToDelayed(Date.now() + outcome.delayMs, token);
      throw new DelayedError();
    case 'over-budget':
      await ports.records.save(bullId, record);
      await events.emit('budget', { jobId, model, record, request, outcome });
      await job.moveToDelayed(Date.now() + outcome.delayMs, token);
      throw new DelayedError();
    case 'completed':
    case 'failed':
    case 'budget-exceeded':
    case 'invalid': {
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
      if (outcome.kind === 'budget-exceeded') {
        await events.emit('budget', { jobId, model, record, request, outcome });
      } else if (outcome.kind !== 'invalid') {
        await withSpan(run.span, () =>
          events.emit('attempt', { jobId, model, record, request, outcome, durationMs: run.attemptMs }),
        );
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
  }
}
