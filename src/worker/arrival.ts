/**
 * Fair from any language. A job added straight to BullMQ by another language's client without a
 * priority lands in BullMQ's wait list, which BullMQ serves before every prioritized job: it would
 * overtake every job promptq's producer queued, whatever their priority and tenant. On arrival the
 * worker gives such a job — any job whose BullMQ priority is not one promptq's producer gives
 * (below `rankSlots`: none, or a raw BullMQ priority) — the priority the producer would have given
 * it (core/fairness.ts): its `priority` field (else a raw BullMQ priority of 1–1000, else
 * the `jobs.defaultPriority` setting) × 2048 + its tenant's rank, counting it in its tenant's pending jobs.
 * Then it hands the job back, no attempt spent and no event emitted, and the queue serves it in its
 * turn. A job whose data does not validate is left to the processor, which fails it.
 */

import { combinedPriority, maxUserPriority, rankSlots, tenantOf } from '../core/fairness.js';
import { validateJob } from '../core/job.js';
import type { JobLimits } from '../core/settings.js';
import type { RedisConnection as Redis } from '../store/connection.js';
import type { Keyspace } from '../store/keys.js';
import { reserveRanks } from '../store/tenant-pending.js';

/** What normalising needs of a BullMQ job. */
export interface ArrivingJob {
  readonly data: unknown;
  /** BullMQ's priority (`0`: none, the wait list; read back from Redis it may be a numeric string). */
  readonly priority: number | string | undefined;
  changePriority(opts: { priority: number }): Promise<void>;
  moveToDelayed(timestamp: number, token?: string): Promise<void>;
}

export interface ArrivalOptions {
  connection: Redis;
  keys: Keyspace;
  /** `config.jobs.defaultPriority`. */
  defaultPriority: number;
  jobLimits: JobLimits;
}

/** Did promptq's producer (or this worker, earlier) give the job its priority? */
export const isNormalised = (priority: number | string | undefined): boolean =>
  (Number(priority) || 0) >= rankSlots;

/**
 * Give a job from another client the priority promptq's producer would have, and hand it back.
 * Returns `true` when it did (the processor then throws BullMQ's `DelayedError`).
 */
export async function normaliseArrival(
  job: ArrivingJob,
  token: string | undefined,
  opts: ArrivalOptions,
): Promise<boolean> {
  if (isNormalised(job.priority)) return false;
  let parsed: ReturnType<typeof validateJob>;
  try {
    parsed = validateJob(job.data, opts.jobLimits);
  } catch {
    return false;
  }
  const raw = Number(job.priority) || 0;
  const user =
    parsed.priority ??
    (Number.isInteger(raw) && raw >= 1 && raw <= maxUserPriority ? raw : opts.defaultPriority);
  const tenant = tenantOf(parsed.request);
  const ranks = await reserveRanks(opts.connection, opts.keys.tenantPending, new Map([[tenant, 1]]));
  await job.changePriority({ priority: combinedPriority(user, ranks.get(tenant) ?? 0) });
  await job.moveToDelayed(Date.now(), token);
  return true;
}
