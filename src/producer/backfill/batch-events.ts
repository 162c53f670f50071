/**
 * The events of a job finished through the Message Batches API: those a live job's finish emits
 * (worker/finish.ts), in the same order and with the same payloads — `started`, `attempt` (when the
 * API answered the request), then `completed` or `failed`, then `finished` — so that every subscriber
 * (metrics, rollups, later webhooks) sees one kind of job, whichever route ran it. `queued` went out
 * when its batch was accepted (batch-run.ts).
 */
import type { AttemptOutcome, FailedOutcome } from '../../events/outcome.js';
import type { EventSink } from '../../events/types.js';
import type { BatchResult, Decision } from '../../providers/provider.js';
import { callerJobId } from '../../store/keys.js';
import type { CollectedJob } from './batch-outcome.js';

/** A request the API never answered (expired, canceled): what its failure says, as a decision. */
function unanswered(type: 'expired' | 'canceled', message: string): Decision {
  return {
    outcome: type === 'expired' ? 'timeout' : 'client_error',
    retry: type === 'expired',
    reason: type,
    statusCode: null,
    errorType: type,
    errorCode: null,
    spendLimit: false,
    retryAfterMs: null,
    message,
    requestId: null,
    signals: null,
  };
}

/** What the API's answer came to, as a live attempt's outcome; `undefined` when it did not answer. */
function attemptOutcome(result: BatchResult, job: CollectedJob): AttemptOutcome | undefined {
  if (result.type === 'succeeded') {
    return {
      kind: 'completed',
      result: {
        message: result.message,
        // A batch result carries no rate-limit signals and no timing of its own.
        signals: {},
        requestId: null,
        statusCode: 200,
        ttftMs: null,
        latencyMs: null,
      },
      priced: job.jobRecord.cost_usd !== null,
    };
  }
  if (result.type === 'errored') {
    return { kind: 'failed', decision: result.decision, message: job.failure ?? result.decision.message };
  }
  return undefined;
}

/** Emit the events of one job a batch finished (after its record and final state were written). */
export async function emitBatchJobEvents(events: EventSink, job: CollectedJob): Promise<void> {
  const { jobRecord: record, batchResult: result } = job;
  // Events name the caller's id, as a live job's do (the stored id carries the tenant's tag).
  const jobId = callerJobId(job.id);
  const request = job.parsed.request;
  const model = request.model;
  await events.emit('started', { jobId, model, record, request });
  const outcome = attemptOutcome(result, job);
  // Not timed: a batch says when it ended, not how long each request took.
  const durationMs = undefined;
  if (outcome !== undefined)
    // A batch request calls the job's own model (no fallback models on this route).
    await events.emit('attempt', { jobId, model, record, request, outcome, durationMs, attemptModel: model });
  if (result.type === 'succeeded') {
    await events.emit('completed', { jobId, model, record, request });
    await events.emit('finished', { jobId, status: 'completed', record });
    return;
  }
  const failure = job.failure ?? result.type;
  const failed: FailedOutcome =
    outcome?.kind === 'failed'
      ? outcome
      : {
          kind: 'failed',
          decision: unanswered(result.type === 'canceled' ? 'canceled' : 'expired', failure),
          message: failure,
        };
  await events.emit('failed', { jobId, model, record, request, outcome: failed });
  await events.emit('finished', { jobId, status: 'failed', record });
}
