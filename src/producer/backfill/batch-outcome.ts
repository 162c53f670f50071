/**
 * What becomes of one request of an ended batch: retried (live or in a follow-up batch) or a finished
 * job in its final state, its record at the Batches price.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { PriceTable } from '../../providers/anthropic/pricing.js';
import type { FinishedBatchJob } from '../../store/batch-store.js';
import { batchRecord, retryableBatchErrors } from './batch-requests.js';
import type { ValidLine } from './parse.js';

/** What happens to `errored` (retryable) and `expired` requests. */
export type BatchRetry = 'live' | 'batches' | 'none';

/** A batch that ended, as collecting needs it. */
export interface EndedBatch {
  id: string;
  createdAt: number;
  endedAt: number;
  round: number;
}

/** A finished job, with the line it came from and the kind of result. */
export interface CollectedJob extends FinishedBatchJob {
  parsed: ValidLine;
  kind: 'succeeded' | 'errored' | 'expired' | 'canceled';
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
  r: Anthropic.Messages.MessageBatchResult,
  round: number,
  retry: BatchRetry,
  maxRounds: number,
): 'live' | 'batch' | null {
  const worth =
    r.type === 'expired' || (r.type === 'errored' && retryableBatchErrors.has(r.error.error.type));
  if (!worth || retry === 'none') return null;
  if (retry === 'live') return 'live';
  return round < maxRounds ? 'batch' : null;
}

/** The finished job of a request whose result is final. */
export function finishedBatchJob(
  line: ValidLine,
  r: Anthropic.Messages.MessageBatchResult,
  batch: EndedBatch,
  prices: PriceTable,
  retention: Retention,
): CollectedJob {
  const record = batchRecord(line.request, r, batch, prices);
  const ok = r.type === 'succeeded';
  return {
    parsed: line,
    kind: r.type,
    id: line.id,
    status: ok ? 'completed' : 'failed',
    name: line.request.model,
    data: JSON.stringify(line.request),
    opts: JSON.stringify(
      ok
        ? { removeOnComplete: { age: retention.completedSeconds } }
        : { removeOnFail: { age: retention.failedSeconds } },
    ),
    enqueuedAt: batch.createdAt,
    processedOn: batch.createdAt,
    finishedOn: batch.endedAt,
    result: ok
      ? JSON.stringify({ message: r.message, record })
      : r.type === 'errored'
        ? r.error.error.message
        : `the request ${r.type === 'canceled' ? 'was canceled' : 'expired'} in batch ${batch.id}`,
    record: JSON.stringify(record),
  };
}
