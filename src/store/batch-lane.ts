/**
 * The batch lane: jobs routed `batch` (producer/routing.ts) wait here for the collector
 * (batches/collector.ts) to put them in a Message Batch. Keys from keys.ts:
 *
 * - `batch-lane`: sorted set job id → when it entered the lane (ms). The job itself is a BullMQ job
 *   in the queue's **delayed** set, due at its deadline − the live lead: should no batch answer it
 *   by then, BullMQ promotes it and a live worker runs it. The delayed set is the one arbiter of
 *   exactly-once: a batch result finishes the job only by taking it out of the delayed set
 *   (lua/finish-delayed-jobs-N.lua), in the same step as it writes the final state.
 * - `batch-unemitted`: jobs finished that way whose events are still owed; the collector emits them
 *   (from the record written) and takes them out, so a collector that died in between is followed
 *   by one that emits them.
 * - `batch-open`: the collector's batches not collected yet (their jobs: batch-store.ts `jobs`).
 * - `collector-lease`: the token of the one active collector across processes; it expires, so a
 *   collector that died is taken over once its lease runs out.
 */
import type { JobRequest } from '../core/job.js';
import type { RedisConnection as Redis } from './connection.js';
import { bullJobId, type Keyspace } from './keys.js';
import { variadicScript } from './scripts.js';

/** Put jobs in the lane (they were just added to the queue as delayed jobs). */
export async function enterLane(
  redis: Redis,
  keys: Keyspace,
  jobs: ReadonlyArray<{ id: string; at: number }>,
): Promise<void> {
  if (jobs.length === 0) return;
  await redis.zadd(keys.batchLane, ...jobs.flatMap((j) => [j.at, j.id]));
}

/** Take jobs out of the lane. */
export async function leaveLane(redis: Redis, keys: Keyspace, ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await redis.zrem(keys.batchLane, ...ids);
}

/** A job of the lane, as the collector needs it. */
export interface LaneJob {
  id: string;
  /** When it entered the lane (ms). */
  at: number;
  /** Its request; null when the job is gone. */
  request: JobRequest | null;
  /** When it was enqueued (ms). */
  enqueuedAt: number;
  /** Still in the queue's delayed set (not taken by the live route). */
  delayed: boolean;
}

/** The oldest `limit` jobs of the lane. */
export async function readLane(redis: Redis, keys: Keyspace, limit: number): Promise<LaneJob[]> {
  const rows = await redis.zrange(keys.batchLane, 0, limit - 1, 'WITHSCORES');
  const entries: Array<{ id: string; at: number }> = [];
  for (let i = 0; i + 1 < rows.length; i += 2) entries.push({ id: rows[i]!, at: Number(rows[i + 1]) });
  return jobsOf(redis, keys, entries);
}

/** Each job's request, enqueue time and whether it is still delayed. */
export async function jobsOf(
  redis: Redis,
  keys: Keyspace,
  entries: ReadonlyArray<{ id: string; at: number }>,
): Promise<LaneJob[]> {
  if (entries.length === 0) return [];
  const pipe = redis.pipeline();
  for (const { id } of entries) {
    pipe.hmget(keys.job(bullJobId(id)), 'data', 'timestamp');
    pipe.zscore(keys.bullmq('delayed'), bullJobId(id));
  }
  const rows = (await pipe.exec()) ?? [];
  return entries.map(({ id, at }, i) => {
    const [data, timestamp] = (rows[2 * i]?.[1] ?? [null, null]) as [string | null, string | null];
    let request: JobRequest | null = null;
    try {
      request = data === null ? null : (JSON.parse(data) as JobRequest);
    } catch {
      request = null;
    }
    return { id, at, request, enqueuedAt: Number(timestamp ?? at), delayed: rows[2 * i + 1]?.[1] != null };
  });
}

/** The collector's batches not collected yet. */
export async function openBatchIds(redis: Redis, keys: Keyspace): Promise<string[]> {
  return redis.smembers(keys.batchOpen);
}

/** A batch was collected: it leaves the open set. */
export async function closeBatch(redis: Redis, keys: Keyspace, id: string): Promise<void> {
  await redis.srem(keys.batchOpen, id);
}

/**
 * Take or keep the collector's lease: true when `token` holds it now (for `ms` from now). A
 * holder that stops renewing loses it once it expires.
 */
export async function holdLease(redis: Redis, keys: Keyspace, token: string, ms: number): Promise<boolean> {
  const taken = await redis.set(keys.collectorLease, token, 'PX', ms, 'NX');
  if (taken === 'OK') return true;
  const renewed = await redis.eval(
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
    1,
    keys.collectorLease,
    token,
    ms,
  );
  return renewed === 1;
}

/** Give the lease up (a clean stop), when `token` holds it. */
export async function releaseLease(redis: Redis, keys: Keyspace, token: string): Promise<void> {
  await redis.eval(
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
    1,
    keys.collectorLease,
    token,
  );
}

/** A delayed job a batch answered, to be written in its final state. */
export interface DelayedFinish {
  id: string;
  status: 'completed' | 'failed';
  processedOn: number;
  finishedOn: number;
  /** `returnvalue` (JSON) for completed jobs, `failedReason` for failed ones. */
  result: string;
  /** The record, JSON. */
  record: string;
  tenant: string;
}

const finishScript = variadicScript('finish-delayed-jobs-N.lua', (r) => (r as unknown[]).map(Number));

/** Finish jobs still delayed; per job, whether this call finished it (false: the live route has it). */
export async function finishDelayedJobs(
  redis: Redis,
  keys: Keyspace,
  jobs: readonly DelayedFinish[],
): Promise<boolean[]> {
  if (jobs.length === 0) return [];
  const k = [
    keys.bullmq('delayed'),
    keys.bullmq('completed'),
    keys.bullmq('failed'),
    keys.bullmq('events'),
    keys.tenantPending,
    keys.batchUnemitted,
    ...jobs.map((j) => keys.job(bullJobId(j.id))),
  ];
  const argv = [
    ...jobs.flatMap((j) => [bullJobId(j.id), j.status, j.processedOn, j.finishedOn, j.result]),
    ...jobs.map((j) => j.record),
    ...jobs.map((j) => j.tenant),
  ];
  const written = await finishScript(redis, k, argv);
  return written.map((w) => w === 1);
}

/**
 * Per job, the record it has now (null: none, or the job is gone) and whether it is owed events from
 * a batch finish (`batch-unemitted`).
 */
export async function owedEvents(
  redis: Redis,
  keys: Keyspace,
  ids: readonly string[],
): Promise<Array<{ owed: boolean; record: string | null }>> {
  if (ids.length === 0) return [];
  const pipe = redis.pipeline();
  for (const id of ids) {
    pipe.sismember(keys.batchUnemitted, bullJobId(id));
    pipe.hget(keys.job(bullJobId(id)), 'record');
  }
  const rows = (await pipe.exec()) ?? [];
  return ids.map((_, i) => ({
    owed: rows[2 * i]?.[1] === 1,
    record: (rows[2 * i + 1]?.[1] as string | null | undefined) ?? null,
  }));
}

/** A job's events were emitted: no longer owed. */
export async function eventsEmitted(redis: Redis, keys: Keyspace, id: string): Promise<void> {
  await redis.srem(keys.batchUnemitted, bullJobId(id));
}
