/**
 * Backfill lines as Message Batches requests: the `custom_id` of each job, the API's limits per
 * batch, and the record a batch result becomes.
 */
import { createHash } from 'node:crypto';
import type Anthropic from '@anthropic-ai/sdk';
import type { JobRequest } from '../../core/job.js';
import { type JobRecord, newRecord } from '../../core/record.js';
import type { PriceTable } from '../../providers/anthropic/pricing.js';

/** The API's `custom_id` rule. */
const customIdPattern = /^[a-zA-Z0-9_-]{1,64}$/;

/** The API's limits per batch. */
export const batchLimits = { requests: 100_000, bytes: 256 * 1024 * 1024 } as const;

/**
 * The `custom_id` of a job in a batch: its job id when the API accepts it (up to 64 characters),
 * else a hash of it. Deterministic, so results map back to jobs without a stored table.
 */
export function batchCustomId(jobId: string): string {
  if (customIdPattern.test(jobId)) return jobId;
  return `h-${createHash('sha256').update(jobId).digest('base64url')}`;
}

/** The Messages API parameters of a job (promptq's own `tenant_id` stays out, as in a live call). */
export function batchParams(request: JobRequest): Anthropic.Messages.MessageCreateParamsNonStreaming {
  const { tenant_id: _tenant, ...params } = request;
  return params as Anthropic.Messages.MessageCreateParamsNonStreaming;
}

/** Bytes one request adds to a create body (its JSON and a comma). */
export function requestBytes(req: { custom_id: string; params: unknown }): number {
  return Buffer.byteLength(JSON.stringify(req)) + 1;
}

/** Error types of an `errored` result worth another try; anything else would fail the same way. */
export const retryableBatchErrors: ReadonlySet<string> = new Set([
  'api_error',
  'overloaded_error',
  'rate_limit_error',
  'timeout_error',
]);

/** How a request ended in its batch, as the result names it. */
export type BatchOutcome = 'succeeded' | 'errored' | 'expired' | 'canceled';

/** The record of a job finished in a batch. */
export function batchRecord(
  request: JobRequest,
  result: Anthropic.Messages.MessageBatchResult,
  batch: { createdAt: number; endedAt: number; round: number },
  prices: PriceTable,
): JobRecord {
  const r = newRecord(request, batch.createdAt);
  r.started_at = r.enqueued_at;
  r.finished_at = new Date(batch.endedAt).toISOString();
  r.queue_wait_ms = 0;
  r.total_ms = batch.endedAt - batch.createdAt;
  r.attempts = batch.round + 1;
  if (batch.round > 0) r.retries = { batch: batch.round };
  if (result.type === 'succeeded') {
    const u = result.message.usage;
    Object.assign(r, {
      input_tokens: u.input_tokens,
      output_tokens: u.output_tokens,
      cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
    });
    r.status_code = 200;
    // The Batches price: every part at the batch discount (cache tokens included).
    const cost = prices.priceCall(u, request.model, { batch: true });
    if (cost) {
      const { total, ...parts } = cost;
      r.cost_usd = total;
      r.cost = parts;
    } else {
      r.cost_usd = null;
      r.cost = null;
    }
  } else if (result.type === 'errored') {
    r.error_type = result.error.error.type;
  } else {
    r.error_type = result.type;
  }
  return r;
}
