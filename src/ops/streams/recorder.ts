/**
 * What event streams (SSE) read: a subscriber of the one event source that writes each job state
 * change — `queued`, `started`, `retrying` (with its reason), `completed`, `failed` — to three capped
 * Redis streams: the job's own, its tenant's and every tenant's. While an SSE client watches a job
 * (its watch key is set, job-route.ts), the model's stream events of its attempts (text deltas,
 * tool input, thinking) go to the job's stream too. A stream entry's id is the SSE event id, so a
 * client resumes with `Last-Event-ID` from Redis, whichever process it reconnects to.
 */
import type { StreamsConfig } from '../../core/settings.js';
import type { EventSource } from '../../events/types.js';
import type { RedisConnection } from '../../store/connection.js';
import type { Keyspace } from '../../store/keys.js';

export type StateEventName = 'queued' | 'started' | 'retrying' | 'completed' | 'failed';

/** The data of a state change as streams carry it. */
export interface StateChange {
  job_id: string;
  tenant: string | null;
  state: 'waiting' | 'active' | 'delayed' | 'completed' | 'failed';
  /** `retrying`: why (`rate_limited`, `overloaded`, …); `failed`: the error type. */
  reason?: string;
  at: string;
}

/** How long a job's watch flag is trusted before it is read again. */
const watchRecheckMs = 250;
/** How long whether any job of the queue is watched is trusted before it is read again. */
const anyWatchRecheckMs = 100;

/** SSE clients of this process watching a job now (the recorder in it need not ask Redis). */
let watchingHere = 0;

/** An SSE client of this process starts (+1) or stops (−1) watching a job (routes.ts). */
export function markWatching(delta: 1 | -1): void {
  watchingHere = Math.max(0, watchingHere + delta);
}
/** How long whether a `/v1/events` client listens is trusted before it is read again. */
const listenedRecheckMs = 1000;
/**
 * How long the tenant-wide streams are still written after the last `/v1/events` client was seen:
 * a client that drops may resume within it (streams/routes.ts refreshes it while one is connected).
 */
export const listenedWindowMs = 10 * 60_000;

/** When a `/v1/events` client of this process was last seen (the recorder in it need not ask Redis). */
let listenedHereAt = Number.NEGATIVE_INFINITY;

/**
 * A `/v1/events` client listens: the tenant-wide streams are written from now on, by this process
 * at once and by every process within a second (the flag in Redis lasts {@link listenedWindowMs}).
 */
export async function markListening(redis: RedisConnection, keys: Keyspace): Promise<void> {
  listenedHereAt = Date.now();
  await redis.set(keys.eventsListened, '1', 'PX', listenedWindowMs);
}

/**
 * Whether a `/v1/events` client listens (or listened within the window): at once for this process's
 * own clients, else read from Redis at most once a second per process, not per job.
 */
function listenedCheck(redis: RedisConnection, keys: Keyspace): () => Promise<boolean> {
  let listenedRead: { on: Promise<boolean>; at: number } | undefined;
  return () => {
    if (Date.now() - listenedHereAt < listenedWindowMs) return Promise.resolve(true);
    if (listenedRead && Date.now() - listenedRead.at < listenedRecheckMs) return listenedRead.on;
    const on = redis.exists(keys.eventsListened).then(
      (n) => n === 1,
      () => true,
    );
    listenedRead = { on, at: Date.now() };
    return on;
  };
}

/**
 * Whether a job (its events stream key) is watched by an SSE client. The read itself is kept, not
 * only its answer: an answer's first stream events arrive together, and they share one EXISTS.
 * Whether any job of the queue is watched is read first, at most once per 100 ms per process, so
 * the jobs nobody watches (nearly all) cost no read of their own.
 */
function watchCheck(redis: RedisConnection, keys: Keyspace) {
  const watched = new Map<string, { on: Promise<boolean>; at: number }>();
  let anyRead: { on: Promise<boolean>; at: number } | undefined;
  const anyWatched = (): Promise<boolean> => {
    if (watchingHere > 0) return Promise.resolve(true);
    if (anyRead && Date.now() - anyRead.at < anyWatchRecheckMs) return anyRead.on;
    const on = redis.exists(keys.jobEventsWatched).then(
      (n) => n === 1,
      () => false,
    );
    anyRead = { on, at: Date.now() };
    return on;
  };
  const isWatched = async (key: string): Promise<boolean> => {
    if (!(await anyWatched())) return false;
    const known = watched.get(key);
    if (known && Date.now() - known.at < watchRecheckMs) return known.on;
    const on = redis.exists(`${key}:watch`).then(
      (n) => n === 1,
      () => false,
    );
    watched.set(key, { on, at: Date.now() });
    return on;
  };
  return { isWatched, forget: (key: string) => void watched.delete(key) };
}

export function subscribeStreams(
  events: EventSource,
  o: { connection: RedisConnection; keys: Keyspace; config: StreamsConfig },
): void {
  const { connection: redis, keys, config } = o;
  const listened = listenedCheck(redis, keys);
  const state = async (
    name: StateEventName,
    jobId: string,
    tenant: string | null | undefined,
    change: Omit<StateChange, 'job_id' | 'tenant' | 'at'>,
  ) => {
    const data = JSON.stringify({
      job_id: jobId,
      tenant: tenant ?? null,
      ...change,
      at: new Date().toISOString(),
    });
    // A pipeline, not MULTI/EXEC: each write stands alone (capped streams), and MULTI and EXEC would
    // be two more commands per state change of every job.
    const m = redis.pipeline();
    const jobKey = keys.jobEvents(jobId, tenant);
    m.xadd(jobKey, 'MAXLEN', '~', config.jobMaxLength, '*', 'e', name, 'd', data);
    // Its time to live runs from the first and the last change (the ones between need no renewal).
    if (name !== 'started' && name !== 'retrying') m.expire(jobKey, config.jobTtlSeconds);
    // The tenant-wide streams only while a /v1/events client listens or listened within the resume
    // window (keys.eventsListened): nobody can resume from what nobody was reading.
    if (await listened()) {
      m.xadd(keys.eventStream(null), 'MAXLEN', '~', config.maxLength, '*', 'e', name, 'd', data);
      if (tenant)
        m.xadd(keys.eventStream(tenant), 'MAXLEN', '~', config.maxLength, '*', 'e', name, 'd', data);
    }
    await m.exec();
  };
  events.on('queued', (e) => state('queued', e.jobId, e.request.tenant_id, { state: 'waiting' }));
  events.on('started', (e) => state('started', e.jobId, e.request.tenant_id, { state: 'active' }));
  events.on('retrying', (e) =>
    state('retrying', e.jobId, e.request.tenant_id, {
      // A rate-limited job waits in its processing for its group's pause.
      state: e.delayMs === null ? 'active' : 'delayed',
      reason: e.reason,
    }),
  );
  events.on('completed', (e) => state('completed', e.jobId, e.request.tenant_id, { state: 'completed' }));
  events.on('failed', (e) =>
    state('failed', e.jobId, e.request?.tenant_id, {
      state: 'failed',
      reason: e.record.error_type ?? e.outcome.kind,
    }),
  );

  // Model stream events: recorded only while someone watches the job.
  const watched = watchCheck(redis, keys);
  const isWatched = watched.isWatched;
  events.on('stream', async (e) => {
    const key = keys.jobEvents(e.jobId, e.tenant);
    if (!(await isWatched(key))) return;
    await redis.xadd(
      key,
      'MAXLEN',
      '~',
      config.jobMaxLength,
      '*',
      'e',
      e.event.type,
      'd',
      JSON.stringify(e.event),
    );
  });
  const forget = (e: { jobId: string; request?: { tenant_id?: string | undefined } | undefined }) =>
    watched.forget(keys.jobEvents(e.jobId, e.request?.tenant_id));
  events.on('completed', forget);
  events.on('failed', forget);
}
