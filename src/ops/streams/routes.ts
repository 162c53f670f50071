/**
 * The event stream routes (Server-Sent Events, framed by `better-sse`):
 *
 * - `GET /v1/jobs/:id/events`: the job's state changes and, while it runs, the model's own stream
 *   events (`content_block_delta`, …) as they arrive; it ends after `completed` or `failed`.
 * - `GET /v1/events`: every state change of the caller's tenant, or of every tenant for the admin.
 *
 * Each event's id is its Redis stream entry's (recorder.ts): a client that reconnects with
 * `Last-Event-ID` gets what it missed, from any process. Scoped like the rest of the API (another
 * tenant's job is a 404), and capped like long polls: at most `PROMPTQ_MAX_WAITERS` streams open
 * per process (then `429`), each at most `maxWaitSeconds` long (then it ends and the client resumes).
 * Streams read Redis through one reader per process (shared-reader.ts): one connection, one
 * blocking `XREAD` over every followed key, each entry handed to the streams that follow it.
 * What a stream reads before it opens is bounded by `PROMPTQ_REDIS_TIMEOUT_MS`: while Redis is away
 * the route answers `503` with `Retry-After`, as every other route does, rather than hang.
 */
import { createSession, type Session } from 'better-sse';
import type { Request, Response } from 'express';
import type { JobView } from '../../producer/job-view.js';
import type { PromptQueue } from '../../producer/queue.js';
import type { RedisConnection } from '../../store/connection.js';
import { withinRedisDeadline } from '../../store/redis-deadline.js';
import { HttpError } from '../http/errors.js';
import type { RouteContext } from '../http/handler.js';
import { jobRefOf } from '../http/job-handlers.js';
import { mayAccess, principalOf } from '../http/tenant-auth.js';
import { listenedWindowMs, markListening, markWatching } from './recorder.js';
import { type Entry, sharedReader } from './shared-reader.js';

export type StreamHandler = (context: RouteContext, req: Request, res: Response) => Promise<void>;

const final = new Set(['completed', 'failed']);
const entryId = /^\d{1,20}-\d{1,20}$/;
/** Streams open in this process, per queue: in all, and per tenant. */
const open = new WeakMap<PromptQueue, { all: number; byTenant: Map<string, number> }>();

/** The client's `Last-Event-ID` (header, or `?last_event_id=` for clients that cannot set it). */
function lastEventId(req: Request): string | undefined {
  const raw = req.headers['last-event-id'] ?? req.query.last_event_id;
  if (raw === undefined || raw === '') return undefined;
  const id = String(raw);
  if (!entryId.test(id))
    throw new HttpError('invalid_request', 'Last-Event-ID: not an event id of this stream');
  return id;
}

/**
 * Take one of the process's stream slots, or refuse (429) past `maxWaiters` — or, for a tenant's
 * stream, past its own `maxPerTenant`, so that one tenant cannot hold every slot (as long polls).
 */
function takeSlot(queue: PromptQueue, tenant: string | undefined): () => void {
  const { maxWaiters: max, maxPerTenant } = queue.config.waiters;
  const held = open.get(queue) ?? { all: 0, byTenant: new Map<string, number>() };
  open.set(queue, held);
  const mine = tenant === undefined ? 0 : (held.byTenant.get(tenant) ?? 0);
  if (tenant !== undefined && mine >= maxPerTenant)
    throw tooMany(`at most ${maxPerTenant} event streams of one tenant at once`, {
      max_streams_per_tenant: maxPerTenant,
    });
  if (held.all >= max) throw tooMany(`at most ${max} event streams at once`, { max_streams: max });
  held.all += 1;
  if (tenant !== undefined) held.byTenant.set(tenant, mine + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    held.all -= 1;
    if (tenant === undefined) return;
    const left = (held.byTenant.get(tenant) ?? 1) - 1;
    if (left > 0) held.byTenant.set(tenant, left);
    else held.byTenant.delete(tenant);
  };
}

function tooMany(message: string, details: Record<string, number>): HttpError {
  return new HttpError('too_many_requests', message, details, { 'Retry-After': '1' });
}

function push(session: Session, [id, fields]: Entry): string {
  const name = fields[1] ?? 'message';
  session.push(JSON.parse(fields[3] ?? 'null'), name, id);
  return name;
}

/**
 * Send the key's entries after `from` as they come, until `stop` says so, the client leaves or
 * `untilMs` passes: read by the process's one shared reader (shared-reader.ts).
 */
function pump(
  session: Session,
  redis: RedisConnection,
  key: string,
  from: string,
  untilMs: number,
  stop: (name: string) => boolean,
): Promise<void> {
  return sharedReader(redis).follow(
    key,
    from,
    untilMs,
    (entry) => stop(push(session, entry)),
    () => session.isConnected,
  );
}

/** End a stream that has begun; one that has not is left to the error handler (a 503, a 429…). */
function end(res: Response): void {
  if (res.headersSent && !res.writableEnded) res.end();
}

/** `GET /v1/jobs/:id/events`. */
export const jobEvents: StreamHandler = async ({ queue, maxWaitSeconds }, req, res) => {
  const id = String(req.params.id);
  const within = <T>(work: () => Promise<T>) =>
    withinRedisDeadline(queue.connection, queue.config.redis.requestDeadlineMs, work);
  // Ids are per tenant: the tenant's own job of this id (the admin's by `?tenant=`).
  const view = await within(() => queue.get(jobRefOf(req)));
  const principal = principalOf(req);
  if (!view || !mayAccess(principal, view.request))
    throw new HttpError('not_found', `no job with id "${id}"`);
  const from = lastEventId(req);
  const { connection: redis, keys } = queue;
  const key = keys.jobEvents(view.id, view.request.tenant_id);
  if (final.has(view.state)) {
    const entries = (await within(() =>
      redis.xrange(key, from === undefined ? '-' : `(${from}`, '+'),
    )) as Entry[];
    return replayFinished(req, res, entries, view, from);
  }
  const release = takeSlot(queue, principal?.kind === 'tenant' ? principal.tenant : undefined);
  const watch = keys.jobEventsWatch(view.id, view.request.tenant_id);
  let refresh: NodeJS.Timeout | undefined;
  let watching = false;
  try {
    // The job's watch, and the queue's "some job is watched" that workers read first (recorder.ts).
    const mark = () =>
      redis.pipeline().set(watch, '1', 'PX', 60_000).set(keys.jobEventsWatched, '1', 'PX', 60_000).exec();
    markWatching(1);
    watching = true;
    await within(mark);
    refresh = setInterval(() => void mark().catch(() => {}), 20_000);
    const session = await createSession(req, res, { keepAlive: 15_000, trustClientEventId: false });
    await pump(session, redis, key, from ?? '0', Date.now() + maxWaitSeconds * 1000, (n) => final.has(n));
  } finally {
    clearInterval(refresh);
    if (watching) markWatching(-1);
    release();
    end(res);
  }
};

/**
 * A finished job: what the client has not seen yet, then the stream ends; `204` (EventSource stops
 * reconnecting) when it has seen everything.
 */
async function replayFinished(
  req: Request,
  res: Response,
  entries: Entry[],
  view: JobView,
  from: string | undefined,
): Promise<void> {
  if (from !== undefined && entries.length === 0) {
    res.status(204).end();
    return;
  }
  const session = await createSession(req, res, { trustClientEventId: false });
  let ended = false;
  for (const entry of entries) ended = final.has(push(session, entry)) || ended;
  // Its events expired: the final state, from the job itself.
  if (!ended) session.push({ job_id: view.id, state: view.state, at: new Date().toISOString() }, view.state);
  end(res);
}

/** `GET /v1/events`: the tenant's state changes (every tenant's for the admin), from now or `Last-Event-ID`. */
export const allEvents: StreamHandler = async ({ queue, maxWaitSeconds }, req, res) => {
  const principal = principalOf(req);
  const key = queue.keys.eventStream(principal?.kind === 'tenant' ? principal.tenant : null);
  const from = lastEventId(req);
  const release = takeSlot(queue, principal?.kind === 'tenant' ? principal.tenant : undefined);
  let listening: NodeJS.Timeout | undefined;
  try {
    // The tenant-wide streams are written while someone listens (recorder.ts): say so, and keep
    // saying it while this client is connected.
    await withinRedisDeadline(queue.connection, queue.config.redis.requestDeadlineMs, () =>
      markListening(queue.connection, queue.keys),
    );
    listening = setInterval(
      () => void markListening(queue.connection, queue.keys).catch(() => {}),
      listenedWindowMs / 10,
    );
    // From now: the newest entry's id (`$` would skip what arrives between two reads).
    const newest = (await withinRedisDeadline(queue.connection, queue.config.redis.requestDeadlineMs, () =>
      queue.connection.xrevrange(key, '+', '-', 'COUNT', 1),
    )) as Entry[];
    const start = from ?? newest[0]?.[0] ?? '0';
    const session = await createSession(req, res, { keepAlive: 15_000, trustClientEventId: false });
    await pump(session, queue.connection, key, start, Date.now() + maxWaitSeconds * 1000, () => false);
  } finally {
    clearInterval(listening);
    release();
    end(res);
  }
};
