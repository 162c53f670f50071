/**
 * Backfill lines as Message Batches requests: the `custom_id` of each job, and the record a batch
 * result becomes. (How a job is sent in a batch, and the limits of one, are the provider's:
 * providers/provider.ts `Batches`.)
 */
import { createHash } from 'node:crypto';
import type { JobRequest } from '../../core/job.js';
import { type JobRecord, newRecord, recordAnswer, savingsOf } from '../../core/record.js';
import type { BatchResult, Pricing } from '../../providers/provider.js';
import { callerJobId } from '../../store/keys.js';

/** The API's `custom_id` rule. */
const customIdPattern = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * The `custom_id` of a job in a batch: the job's id when it has no tenant and the API accepts it
 * (up to 64 characters, not starting `h-`), else `h-` and a hash of the stored id. A tenant's job
 * is stored under its id and the tenant's tag, and the collector's batches mix tenants: two tenants'
 * `batch-0` must not share a `custom_id` (the API refuses the batch, and a result could map back to
 * the other tenant's job). Deterministic, so results map back to jobs without a stored table.
 */
export function batchCustomId(jobId: string): string {
  const untagged = callerJobId(jobId) === jobId;
  if (untagged && customIdPattern.test(jobId) && !jobId.startsWith('h-')) return jobId;
  return `h-${createHash('sha256').update(jobId).digest('base64url')}`;
}

/** The record of a job finished in a batch. */
export function batchRecord(
  request: JobRequest,
  result: BatchResult,
  batch: { createdAt: number; endedAt: number; round: number },
  prices: Pricing,
  /** When the job was enqueued (a job of the queue's batch lane); the batch's creation otherwise. */
  enqueuedAt: number = batch.createdAt,
): JobRecord {
  const r = newRecord(request, enqueuedAt);
  r.route = 'batch';
  r.started_at = new Date(batch.createdAt).toISOString();
  r.finished_at = new Date(batch.endedAt).toISOString();
  r.queue_wait_ms = Math.max(0, batch.createdAt - enqueuedAt);
  r.total_ms = batch.endedAt - enqueuedAt;
  r.attempts = batch.round + 1;
  if (batch.round > 0) r.retries = { batch: batch.round };
  if (result.type === 'succeeded') {
    const u = result.message.usage;
    // The same fields as a live answer (core/record.ts), served by the model the job named.
    recordAnswer(r, result.message, request.model);
    r.status_code = 200;
    // The Batches price: every part at the batch discount (cache tokens included).
    const cost = prices.priceCall(u, request.model, { batch: true });
    if (cost) {
      const { total, ...parts } = cost;
      r.cost_usd = total;
      r.cost = parts;
      r.savings = savingsOf((x, m, o) => prices.priceCall(x, m, o), u, request.model, total);
    } else {
      r.cost_usd = null;
      r.cost = null;
    }
  } else if (result.type === 'errored') {
    r.error_type = result.decision.errorType;
  } else {
    r.error_type = result.type;
  }
  return r;
}
