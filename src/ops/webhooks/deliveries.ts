/**
 * The webhook deliveries of one queue: a BullMQ queue of its own (`<queue>.webhooks`, store/keys.ts),
 * so a delivery never takes a job's worker slot or holds a job's lock, and survives a restart like
 * any job. One delivery per finished job and event, its id (the `webhook-id` header) derived from
 * both: the same across retries and replays, so a receiver deduplicates on it, and the same event
 * announced twice makes one delivery. Retries back off (doubling from `backoffBaseMs`, at most
 * `backoffMaxMs` apart) for `retryPeriodSeconds`; then the delivery is dead-lettered (BullMQ's
 * failed set), where `promptq webhooks list --failed` shows it and `promptq webhooks retry ID`
 * replays it.
 */
import { createHash } from 'node:crypto';
import { type Job, Queue } from 'bullmq';
import type { WebhooksConfig } from '../../core/settings.js';
import type { RedisConnection } from '../../store/connection.js';
import type { Keyspace } from '../../store/keys.js';

export type WebhookEvent = 'job.completed' | 'job.failed';

/** A delivery's job data. */
export interface DeliveryData {
  /** The `webhook-id` header: the same on every attempt. */
  webhookId: string;
  jobId: string;
  event: WebhookEvent;
  url: string;
  /** The job's tenant: its secret signs, else `PROMPTQ_WEBHOOK_SECRET`. */
  tenant: string | null;
  /** The body, fixed at the first attempt so that every retry sends the same bytes. */
  body?: string;
  /** Why the delivery is held (its tenant's secret cannot be decrypted); gone once it can be. */
  held?: string | undefined;
}

/** What `promptq webhooks list` shows of a delivery (never the URL's path or query: they may hold a token). */
export interface DeliveryView {
  id: string;
  job_id: string;
  event: WebhookEvent;
  state: string;
  receiver: string;
  attempts: number;
  last_error: string | null;
  finished_at: string | null;
}

/** The `webhook-id` of a job's event. */
export function webhookIdOf(
  queue: string,
  jobId: string,
  event: WebhookEvent,
  tenant: string | null,
): string {
  // Ids are per tenant: two tenants' jobs of one id are two deliveries (a job of no tenant keeps
  // the id it always had).
  const key = `${queue}\0${jobId}\0${event}${tenant === null ? '' : `\0${tenant}`}`;
  const hash = createHash('sha256').update(key).digest('base64url');
  return `msg_${hash.slice(0, 26)}`;
}

/** The name of the custom backoff (the delivery worker's `backoffStrategy`). */
export const backoffType = 'promptq-webhook';

/** The delay before attempt `made + 1`. */
export function backoffDelay(config: Pick<WebhooksConfig, 'backoffBaseMs' | 'backoffMaxMs'>, made: number) {
  return Math.min(config.backoffBaseMs * 2 ** Math.max(0, made - 1), config.backoffMaxMs);
}

/** Attempts whose backoff fits in `retryPeriodSeconds` (the first attempt included). */
export function attemptsWithin(config: WebhooksConfig): number {
  const periodMs = config.retryPeriodSeconds * 1000;
  let attempts = 1;
  let elapsed = 0;
  while (attempts < 10_000) {
    const next = backoffDelay(config, attempts);
    if (elapsed + next > periodMs) break;
    elapsed += next;
    attempts += 1;
  }
  return attempts;
}

function receiverOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '?';
  }
}

export class WebhookDeliveries {
  readonly queue: Queue<DeliveryData>;
  readonly #keys: Keyspace;
  readonly #config: WebhooksConfig;
  readonly #keepSeconds: { completed: number; failed: number };

  constructor(
    connection: RedisConnection,
    keys: Keyspace,
    config: WebhooksConfig,
    keep: { completed: number; failed: number },
  ) {
    this.#keys = keys;
    this.#config = config;
    this.#keepSeconds = keep;
    this.queue = new Queue<DeliveryData>(keys.webhookQueue, { connection, prefix: keys.prefix });
    this.queue.on('error', () => {});
  }

  /** Add the delivery of a job's event (once: the same event again is the same delivery). */
  async enqueue(d: Omit<DeliveryData, 'webhookId' | 'body' | 'held'>): Promise<string> {
    const webhookId = webhookIdOf(this.#keys.queue, d.jobId, d.event, d.tenant);
    await this.queue.add(
      d.event,
      { ...d, webhookId },
      {
        jobId: webhookId,
        attempts: attemptsWithin(this.#config),
        backoff: { type: backoffType },
        removeOnComplete: { age: this.#keepSeconds.completed },
        removeOnFail: { age: this.#keepSeconds.failed },
      },
    );
    return webhookId;
  }

  /** The latest deliveries (at most `limit`), or only the dead-lettered ones. */
  async list(failedOnly: boolean, limit = 100): Promise<DeliveryView[]> {
    const states = failedOnly
      ? (['failed'] as const)
      : (['active', 'waiting', 'delayed', 'completed', 'failed'] as const);
    const jobs = await this.queue.getJobs([...states], 0, limit - 1);
    const views = await Promise.all(
      jobs.filter((j): j is Job<DeliveryData> => !!j).map((j) => this.#view(j)),
    );
    return views.sort((a, b) => (b.finished_at ?? '~').localeCompare(a.finished_at ?? '~'));
  }

  async #view(job: Job<DeliveryData>): Promise<DeliveryView> {
    return {
      id: job.data.webhookId,
      job_id: job.data.jobId,
      event: job.data.event,
      state: await job.getState(),
      receiver: receiverOf(job.data.url),
      attempts: job.attemptsMade,
      last_error: job.data.held ?? (job.failedReason || null),
      finished_at: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    };
  }

  /**
   * Replay a delivery (dead-lettered or delivered) with the same `webhook-id`; `false` when there
   * is no such delivery, or it is still pending.
   */
  async retry(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    if (!job) return false;
    const state = await job.getState();
    if (state !== 'failed' && state !== 'completed') return false;
    await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
