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

export function subscribeStreams(
  events: EventSource,
  o: { connection: RedisConnection; keys: Keyspace; config: StreamsConfig },
): void {
  const { connection: redis, keys, config } = o;
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
    const m = redis.multi();
    const jobKey = keys.jobEvents(jobId, tenant);
    m.xadd(jobKey, 'MAXLEN', '~', config.jobMaxLength, '*', 'e', name, 'd', data);
    m.expire(jobKey, config.jobTtlSeconds);
    m.xadd(keys.eventStream(null), 'MAXLEN', '~', config.maxLength, '*', 'e', name, 'd', data);
    if (tenant) m.xadd(keys.eventStream(tenant), 'MAXLEN', '~', config.maxLength, '*', 'e', name, 'd', data);
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
  const watched = new Map<string, { on: boolean; at: number }>();
  const isWatched = async (key: string) => {
    const known = watched.get(key);
    if (known && Date.now() - known.at < watchRecheckMs) return known.on;
    const on = (await redis.exists(`${key}:watch`)) === 1;
    watched.set(key, { on, at: Date.now() });
    return on;
  };
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
    void watched.delete(keys.jobEvents(e.jobId, e.request?.tenant_id));
  events.on('completed', forget);
  events.on('failed', forget);
}
