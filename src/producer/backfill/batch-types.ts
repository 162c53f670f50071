/** A `--via batches` run: its options, its progress line and its summary. */
import type { EventSink } from '../../events/types.js';
import type { Pricing, Provider } from '../../providers/provider.js';
import type { RedisConnection as Redis } from '../../store/connection.js';
import type { PromptQueue } from '../queue.js';
import type { BatchRetry } from './batch-outcome.js';

export interface BatchRunOptions {
  /** A provider with Message Batches (`provider.batches`). */
  provider: Provider;
  redis: Redis;
  /** The queue the jobs belong to (keys, retention; live retries are enqueued here). */
  queue: PromptQueue;
  prices: Pricing;
  /** `errored` (retryable) and `expired` requests: the live queue, a follow-up batch, or failed. */
  retry: BatchRetry;
  /** Requests per batch (the API allows 100,000). @defaultValue `defaults.backfill.batchSize` */
  batchSize?: number;
  /** Bytes per create body (the API allows 256 MB). @defaultValue 255 MB */
  batchBytes?: number;
  /** Follow-up batches at most, with `retry: 'batches'`; then the request fails. @defaultValue `3` */
  maxRounds?: number;
  /** First and longest pause between polls. @defaultValue `{ minMs: 1000, maxMs: 60000 }` */
  poll?: { minMs: number; maxMs: number };
  /** Keep completed / failed jobs this long (as the queue does). */
  keepCompletedSeconds: number;
  keepFailedSeconds: number;
  onProgress?: (p: BatchProgress) => void;
  /**
   * Where the jobs' events go, as a live worker's (batch-events.ts): `queued` when a batch is
   * accepted, then `started`, `attempt`, `completed` or `failed` and `finished` once its result is
   * written. Rollups and metrics subscribe there.
   */
  events?: EventSink;
  /**
   * A batch was submitted, adopted (found after a kill), ended or collected; or is `gone`: the API
   * no longer knows it (expired, deleted, or made with another API key), and its requests are
   * handled as expired ones (sent again or failed, as `retry` says).
   */
  onBatch?: (e: {
    event: 'submitted' | 'adopted' | 'ended' | 'collected' | 'gone';
    id: string;
    requests?: number;
  }) => void;
}

/** Request counts over every batch of the run (the progress line). */
export interface BatchProgress {
  batches: number;
  submitted: number;
  processing: number;
  succeeded: number;
  errored: number;
  expired: number;
  canceled: number;
}

export interface BatchRunSummary {
  /** Batches of this file, this run's and earlier runs'. */
  batches: number;
  /** Requests submitted by this run (follow-ups included). */
  submitted: number;
  /** Lines found in a batch an earlier run submitted. */
  resumed: number;
  /** Lines whose job already exists in the queue (finished, or waiting from a live run): left alone. */
  already_there: number;
  /** Final outcomes written by this run, by kind. */
  succeeded: number;
  errored: number;
  expired: number;
  canceled: number;
  /** Requests sent again: to the live queue, in a follow-up batch. */
  retried_live: number;
  retried_batch: number;
  /** Lines their tenant's budget could not hold at submission: sent to the live queue instead. */
  over_budget_live: number;
}

/** No request counted yet. */
export function emptyProgress(): BatchProgress {
  return { batches: 0, submitted: 0, processing: 0, succeeded: 0, errored: 0, expired: 0, canceled: 0 };
}
