/** Reading a job back: its state, request, result, record and error (`GET /v1/jobs/:id`). */
import { Job, type Queue } from 'bullmq';
import type { JobRequest } from '../core/job.js';
import { modelGroup } from '../core/models.js';
import { type JobRecord, newRecord } from '../core/record.js';
import type { JobResult } from '../core/result.js';
import type { RedisConnection } from '../store/connection.js';
import { bullJobId, bullmqKeySuffixes, callerJobId, type Keyspace } from '../store/keys.js';
import { loadRecord } from '../store/record-store.js';
import { script } from '../store/scripts.js';

/** Job states (docs/reference/http-api.md). */
export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

/** What `GET /v1/jobs/:id` returns. */
export interface JobView {
  id: string;
  state: JobState;
  request: JobRequest;
  /** The API's Message, once completed. */
  result: unknown;
  record: JobRecord;
  error: { type: string; message: string } | null;
  /**
   * While waiting: the jobs of its model group the queue serves before it (higher priority, then
   * the tenant round robin).
   */
  position?: number;
  /**
   * While waiting: seconds until it starts, estimated from `position` and its model group's request
   * pace as the limiter runs it now; `null` while the pace is unknown (no call of the group yet).
   */
  eta_s?: number | null;
}

/** Jobs of each kind read one by one for a place in line; past it, the share read stands for the rest. */
export const placeScanCap = 10_000;

const placeScript = script(
  'place-in-line-4.lua',
  ['prioritized', 'wait', 'active', 'delayed'],
  ['jobPrefix', 'bullId', 'cap'],
  (reply) => reply as [number, number, Array<string | number>, number, number, Array<string | number>] | null,
);

/** Of `total` jobs, `read` tallied by name: those of `group`, the unread ones at the share of the read. */
function ofGroup(total: number, read: number, names: Array<string | number>, group: string): number {
  let same = 0;
  for (let i = 0; i < names.length; i += 2)
    if (modelGroup(String(names[i])) === group) same += Number(names[i + 1]);
  return read >= total || read === 0 ? same : Math.round((same * total) / read);
}

/**
 * A waiting job's place: the jobs of its own model group that BullMQ hands out before it — its
 * plain wait list first, then the prioritized set in order (promptq's jobs are all prioritized,
 * by user priority and then the tenant round robin: core/fairness.ts) — and the estimate of its
 * start. Jobs of other model groups ahead of it are not ahead of it: they are paced by their own
 * group's limiter, and a worker hands back one whose group has no permit soon.
 */
async function placeInLine(
  connection: RedisConnection,
  keys: Keyspace,
  bullId: string,
  model: string,
): Promise<{ position: number; eta_s: number | null } | null> {
  const group = modelGroup(model);
  const [place, pace] = await Promise.all([
    placeScript(
      connection,
      {
        prioritized: keys.bullmq('prioritized'),
        wait: keys.bullmq('wait'),
        active: keys.bullmq('active'),
        delayed: keys.bullmq('delayed'),
      },
      { jobPrefix: keys.job(''), bullId, cap: placeScanCap },
    ),
    connection.hget(keys.pace, group),
  ]);
  if (place === null) return null;
  const [ahead, aheadRead, aheadNames, held, heldRead, heldNames] = place;
  const position = ofGroup(ahead, aheadRead, aheadNames, group);
  const perSecond = pace === null ? 0 : Number((JSON.parse(pace) as { per_second?: number }).per_second);
  // The jobs of its group workers hold (active, most of them waiting for the limiter, or handed
  // back to wait delayed) start before it too, though they are no longer ahead of it in the queue.
  const before = position + ofGroup(held, heldRead, heldNames, group);
  const eta = perSecond > 0 ? Math.round(((before + 1) / perSecond) * 10) / 10 : null;
  return { position, eta_s: eta };
}

function mapState(s: string): JobState | null {
  switch (s) {
    case 'waiting':
    case 'prioritized':
    case 'waiting-children':
    case 'wait':
      return 'waiting';
    case 'delayed':
    case 'active':
    case 'completed':
    case 'failed':
      return s;
    default:
      return null;
  }
}

/** A stored id (store/keys.ts `scopedJobId`): a caller's id, with its tenant's tag when it has one. */
const storedIdPattern = /^[A-Za-z0-9_-]{1,128}(\.t[A-Za-z0-9_-]{22})?$/;

/** The job's state in promptq's terms; null when there is no such job. */
export async function jobState(queue: Queue, bullId: string): Promise<JobState | null> {
  return mapState(await queue.getJobState(bullId));
}

/**
 * Where the job with this public id is: promptq's own (`pq.<id>`), else a job another BullMQ
 * client added under that very id (never one named like a BullMQ key: reading it would touch
 * BullMQ's structure).
 */
async function findJob(queue: Queue, id: string): Promise<{ bullId: string; state: JobState } | null> {
  const own = bullJobId(id);
  const state = await jobState(queue, own);
  if (state !== null) return { bullId: own, state };
  if (bullmqKeySuffixes.has(id) || id.includes('.')) return null;
  const foreign = await jobState(queue, id);
  return foreign === null ? null : { bullId: id, state: foreign };
}

/**
 * The job's state, request, result, record and error; `null` for an unknown id. `id` is the stored
 * id (a tenant's ids carry its tag); the view shows the caller's.
 */
export async function readJobView(
  queue: Queue,
  connection: RedisConnection,
  keys: Keyspace,
  id: string,
  /** Add a waiting job's `position` and `eta_s` (a long poll's re-checks leave them out: their cost). */
  withPlace = true,
): Promise<JobView | null> {
  if (!storedIdPattern.test(id)) return null;
  // State first, then the job: the job's data is then at least as new as its state, so a job seen
  // as completed or failed always comes with its result or reason (the other order could pair a
  // fresh "completed" with the hash read just before it finished).
  const found = await findJob(queue, id);
  if (found === null) return null;
  const { bullId, state } = found;
  const job = await Job.fromId<JobRequest, JobResult>(queue, bullId);
  if (!job) return null;
  const request = job.data;
  const stored = await loadRecord(connection, keys.job(bullId));
  const record = stored ?? job.returnvalue?.record ?? newRecord(request, job.timestamp);
  const place =
    withPlace && state === 'waiting' ? await placeInLine(connection, keys, bullId, request.model) : null;
  return {
    id: callerJobId(id),
    state,
    request,
    result: state === 'completed' ? (job.returnvalue?.message ?? null) : null,
    record,
    error:
      state === 'failed'
        ? { type: record.error_type ?? 'failed', message: job.failedReason ?? 'failed' }
        : null,
    ...(place ?? {}),
  };
}
