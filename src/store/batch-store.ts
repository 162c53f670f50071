/**
 * What promptq remembers of the Message Batches it submitted, per queue (keys from keys.ts):
 *
 * - `batches`: every batch id with its creation time, for `promptq batches list`;
 * - `batch:<id>`: `created_at`, `requests`, `round` (0 = first submission, 1+ = follow-ups of
 *   errored or expired requests), `status` (`in_progress`, `canceling`, `ended`), `collected`
 *   (`1` once its results were written) and the last `request_counts` seen (`counts`, JSON); a
 *   batch collector's batch also `jobs` (its jobs' stored ids, JSON) and `due` (when its first job
 *   is at risk: deadline − live lead, ms; empty when none has a deadline);
 * - `batch-intents`: token → `{at, ids}` of a batch being submitted, written before the API is asked
 *   and removed with the write of its answer, so a run killed in between can find the batch the API
 *   accepted (batch-run.ts, batches/collector.ts: a collector's intents carry `lane`) instead of
 *   submitting its lines again;
 * - `batch-of`: job id → batch id. A job is submitted only while it has no entry (or its entry's
 *   batch was collected and the job was sent again), so a killed run resumes without submitting
 *   anything twice.
 *
 * Everything expires {@link batchRetentionSeconds} after its last write. Finished requests become
 * BullMQ jobs in their final state (lua/finish-batch-jobs-N.lua).
 */
import type { RedisConnection as Redis } from './connection.js';
import { bullJobId, type Keyspace } from './keys.js';
import { variadicScript } from './scripts.js';

/** How long batch state is kept after its last write: past the API's 29-day results retention. */
export const batchRetentionSeconds = 30 * 24 * 3600;

export interface StoredBatch {
  id: string;
  created_at: string;
  requests: number;
  round: number;
  status: string;
  collected: boolean;
  counts: Record<string, number> | null;
  /** A collector's batch: its jobs' stored ids (empty for a backfill's). */
  jobs: string[];
  /** A collector's batch: when its first job is at risk (deadline − live lead, ms); null: never. */
  due: number | null;
}

/** A collector's batch (batches/collector.ts): its jobs leave the lane, it joins the open batches. */
export interface LaneBatch {
  /** Its earliest job's deadline − live lead (ms); null when none has a deadline. */
  due: number | null;
}

/** Remember a batch that the API accepted, and which jobs it carries. */
export async function saveSubmittedBatch(
  redis: Redis,
  keys: Keyspace,
  batch: { id: string; createdAt: number; round: number; status: string },
  jobIds: readonly string[],
  intent?: string,
  lane?: LaneBatch,
): Promise<void> {
  const tx = redis.multi();
  if (intent !== undefined) tx.hdel(keys.batchIntents, intent);
  if (lane !== undefined) {
    tx.hset(keys.batch(batch.id), { jobs: JSON.stringify(jobIds), due: lane.due ?? '' });
    tx.sadd(keys.batchOpen, batch.id);
    if (jobIds.length > 0) tx.zrem(keys.batchLane, ...jobIds);
  }
  tx.zadd(keys.batches, batch.createdAt, batch.id);
  tx.hset(keys.batch(batch.id), {
    created_at: new Date(batch.createdAt).toISOString(),
    requests: jobIds.length,
    round: batch.round,
    status: batch.status,
    collected: 0,
  });
  for (let i = 0; i < jobIds.length; i += 5000) {
    const part = jobIds.slice(i, i + 5000);
    tx.hset(keys.batchOf, Object.fromEntries(part.map((id) => [id, batch.id])));
  }
  for (const k of [keys.batches, keys.batch(batch.id), keys.batchOf]) tx.expire(k, batchRetentionSeconds);
  await tx.exec();
}

/** A batch about to be submitted (see `batch-intents` above). */
export interface BatchIntent {
  token: string;
  /** When the API was asked (ms). */
  at: number;
  /** 0 = first submission, 1+ = follow-ups. */
  round: number;
  ids: string[];
  /** The batch collector's (batches/collector.ts), not a backfill's. */
  lane?: boolean | undefined;
}

export async function saveBatchIntent(redis: Redis, keys: Keyspace, intent: BatchIntent): Promise<void> {
  await redis
    .multi()
    .hset(
      keys.batchIntents,
      intent.token,
      JSON.stringify({
        at: intent.at,
        round: intent.round,
        ids: intent.ids,
        ...(intent.lane ? { lane: true } : {}),
      }),
    )
    .expire(keys.batchIntents, batchRetentionSeconds)
    .exec();
}

export async function loadBatchIntents(redis: Redis, keys: Keyspace): Promise<BatchIntent[]> {
  const all = await redis.hgetall(keys.batchIntents);
  return Object.entries(all).flatMap(([token, raw]) => {
    try {
      const { at, round, ids, lane } = JSON.parse(raw) as {
        at: number;
        round?: number;
        ids: string[];
        lane?: boolean;
      };
      return [{ token, at, round: round ?? 0, ids, lane: lane === true }];
    } catch {
      return [];
    }
  });
}

export async function dropBatchIntent(redis: Redis, keys: Keyspace, token: string): Promise<void> {
  await redis.hdel(keys.batchIntents, token);
}

/** Every batch id promptq knows for the queue. */
export async function knownBatchIds(redis: Redis, keys: Keyspace): Promise<Set<string>> {
  return new Set(await redis.zrange(keys.batches, 0, -1));
}

/** The batch each job was submitted in (`null`: none). */
export async function batchesOfJobs(
  redis: Redis,
  keys: Keyspace,
  jobIds: readonly string[],
): Promise<Array<string | null>> {
  if (jobIds.length === 0) return [];
  return redis.hmget(keys.batchOf, ...jobIds);
}

/** Update what promptq last saw of a batch. */
export async function updateBatch(
  redis: Redis,
  keys: Keyspace,
  id: string,
  fields: { status?: string; collected?: boolean; counts?: Record<string, number> },
): Promise<void> {
  const f: Record<string, string | number> = {};
  if (fields.status !== undefined) f.status = fields.status;
  if (fields.collected !== undefined) f.collected = fields.collected ? 1 : 0;
  if (fields.counts !== undefined) f.counts = JSON.stringify(fields.counts);
  await redis.multi().hset(keys.batch(id), f).expire(keys.batch(id), batchRetentionSeconds).exec();
}

function decode(id: string, h: Record<string, string>): StoredBatch | null {
  if (h.created_at === undefined) return null;
  let counts: Record<string, number> | null = null;
  try {
    counts = h.counts === undefined ? null : (JSON.parse(h.counts) as Record<string, number>);
  } catch {
    counts = null;
  }
  let jobs: string[] = [];
  try {
    jobs = h.jobs === undefined ? [] : (JSON.parse(h.jobs) as string[]);
  } catch {
    jobs = [];
  }
  return {
    id,
    created_at: h.created_at,
    requests: Number(h.requests ?? 0),
    round: Number(h.round ?? 0),
    status: h.status ?? 'in_progress',
    collected: h.collected === '1',
    counts,
    jobs,
    due: h.due === undefined || h.due === '' ? null : Number(h.due),
  };
}

export async function loadBatch(redis: Redis, keys: Keyspace, id: string): Promise<StoredBatch | null> {
  return decode(id, await redis.hgetall(keys.batch(id)));
}

/** Several batches in one round trip (unknown ids are left out). */
export async function loadBatches(
  redis: Redis,
  keys: Keyspace,
  ids: readonly string[],
): Promise<StoredBatch[]> {
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hgetall(keys.batch(id));
  const rows = (await pipe.exec()) ?? [];
  return ids
    .map((id, i) => decode(id, (rows[i]?.[1] ?? {}) as Record<string, string>))
    .filter((b): b is StoredBatch => b !== null);
}

/** The newest batches first. */
export async function listBatchIds(redis: Redis, keys: Keyspace, limit: number): Promise<string[]> {
  return redis.zrevrange(keys.batches, 0, limit - 1);
}

/** A job that finished in a batch, to be written in its final state. */
export interface FinishedBatchJob {
  id: string;
  status: 'completed' | 'failed';
  /** BullMQ's job name (promptq uses the model). */
  name: string;
  /** The job data (the validated request), JSON. */
  data: string;
  /** BullMQ job options, JSON (retention, priority). */
  opts: string;
  enqueuedAt: number;
  processedOn: number;
  finishedOn: number;
  /** `returnvalue` (JSON) for completed jobs, `failedReason` for failed ones. */
  result: string;
  /** The record, JSON. */
  record: string;
}

const finishScript = variadicScript('finish-batch-jobs-N.lua', (r) => (r as unknown[]).map(Number));

/** Write finished jobs unless they exist; returns, per job, whether this call wrote it. */
export async function finishBatchJobs(
  redis: Redis,
  keys: Keyspace,
  jobs: readonly FinishedBatchJob[],
  /** The queue's retention: finished jobs older than this are removed meanwhile (0: kept). */
  retention: { completedSeconds: number; failedSeconds: number },
): Promise<boolean[]> {
  if (jobs.length === 0) return [];
  const k = [
    keys.bullmq('completed'),
    keys.bullmq('failed'),
    keys.bullmq('events'),
    // promptq's jobs live in BullMQ under `pq.<id>` (keys.ts).
    ...jobs.map((j) => keys.job(bullJobId(j.id))),
  ];
  const argv = jobs.flatMap((j) => [
    bullJobId(j.id),
    j.status,
    j.name,
    j.data,
    j.opts,
    j.enqueuedAt,
    j.processedOn,
    j.finishedOn,
    j.result,
  ]);
  const written = await finishScript(redis, k, [
    ...argv,
    ...jobs.map((j) => j.record),
    retention.completedSeconds * 1000,
    retention.failedSeconds * 1000,
    keys.job(''),
  ]);
  return written.map((w) => w === 1);
}

/** Turnarounds kept: enough for a recent maximum, few enough to follow the account's changes. */
const turnaroundSamples = 20;

/** One ended batch's created → ended time (ms), the newest first. */
export async function saveTurnaround(redis: Redis, keys: Keyspace, ms: number): Promise<void> {
  await redis
    .multi()
    .lpush(keys.batchTurnarounds, String(Math.max(0, Math.round(ms))))
    .ltrim(keys.batchTurnarounds, 0, turnaroundSamples - 1)
    .exec();
}

/** The turnarounds measured on this account (ms), newest first; empty until a batch has ended. */
export async function loadTurnarounds(redis: Redis, keys: Keyspace): Promise<number[]> {
  const rows = await redis.lrange(keys.batchTurnarounds, 0, turnaroundSamples - 1);
  return rows.map(Number).filter((n) => Number.isFinite(n));
}
