/**
 * What becomes of one request of an ended batch: retried (live or in a follow-up batch) or a finished
 * job in its final state, its record at the Batches price.
 */
import type { JobRecord } from '../../core/record.js';
import type { BatchResult, Pricing } from '../../providers/provider.js';
import type { FinishedBatchJob } from '../../store/batch-store.js';
import { batchRecord } from './batch-requests.js';
import type { ValidLine } from './parse.js';

/** What happens to `errored` (retryable) and `expired` requests. */
export type BatchRetry = 'live' | 'batches' | 'none';

/** A batch that ended, as collecting needs it. */
export interface EndedBatch {
  id: string;
  createdAt: number;
  endedAt: number;
  round: number;
  /** The API no longer knows it: no results, every request counts as expired. */
  gone?: boolean;
}

/** A finished job, with the line it came from, its result in the batch and its record. */
export interface CollectedJob extends FinishedBatchJob {
  parsed: ValidLine;
  kind: BatchResult['type'];
  batchResult: BatchResult;
  jobRecord: JobRecord;
  /** The job's failure reason (failed jobs). */
  failure: string | null;
}

/** How long finished jobs are kept (the queue's retention). */
export interface Retention {
  completedSeconds: number;
  failedSeconds: number;
}

/**
 * Send the request again? `expired`, and `errored` with an error worth retrying, go to the live queue
 * or, with `batches`, to a follow-up batch while `round` is under `maxRounds`; null: it is final.
 */
export function retryOf(
  r: BatchResult,
  round: number,
  retry: BatchRetry,
  maxRounds: number,
): 'live' | 'batch' | null {
  const worth = r.type === 'expired' || (r.type === 'errored' && r.decision.retry);
  if (!worth || retry === 'none') return null;
  if (retry === 'live') return 'live';
  return round < maxRounds ? 'batch' : null;
}

/** Why a request that did not succeed failed its job. */
export function failureOf(r: Exclude<BatchResult, { type: 'succeeded' }>, batchId: string): string {
  if (r.type === 'errored') return r.decision.message;
  return `the request ${r.type === 'canceled' ? 'was canceled' : 'expired'} in batch ${batchId}`;
}

/** The finished job of a request whose result is final. */
export function finishedBatchJob(
  line: ValidLine,
  r: BatchResult,
  batch: EndedBatch,
  prices: Pricing,
  retention: Retention,
  /** When the job was enqueued (a job of the queue's batch lane); the batch's creation otherwise. */
  enqueuedAt: number = batch.createdAt,
): CollectedJob {
  const record = batchRecord(line.request, r, batch, prices, enqueuedAt);
  const failure = r.type === 'succeeded' ? null : failureOf(r, batch.id);
  return {
    parsed: line,
    kind: r.type,
    batchResult: r,
    jobRecord: record,
    failure,
    id: line.id,
    status: failure === null ? 'completed' : 'failed',
    name: line.request.model,
    data: JSON.stringify(line.request),
    opts: JSON.stringify(
      failure === null
        ? { removeOnComplete: { age: retention.completedSeconds } }
        : { removeOnFail: { age: retention.failedSeconds } },
    ),
    enqueuedAt,
    processedOn: batch.createdAt,
    finishedOn: batch.endedAt,
    result: r.type === 'succeeded' ? JSON.stringify({ message: r.message, record }) : (failure ?? r.type),
    record: JSON.stringify(record),
  };
}
