/**
 * The job routes' handlers: enqueue one job, enqueue a batch, read (or wait for) a job. Ids are per
 * tenant (store/keys.ts `scopedJobId`): a tenant reads and waits in its own namespace only, so
 * another tenant's job of the same id is, to it, no job at all, by the very same path as an id
 * nobody uses (404). The admin reads a tenant's job with `?tenant=NAME`.
 */
import type { Request } from 'express';
import type { JobView } from '../../producer/job-view.js';
import type { JobRef } from '../../producer/queue.js';
import { whenReady } from '../../store/redis-deadline.js';
import { HttpError } from './errors.js';
import type { Reply, RouteContext } from './handler.js';
import { mayAccess, principalOf, scopeJobBody } from './tenant-auth.js';

/**
 * `POST /v1/jobs`: 202 when added, 200 when the id was there already. Ids are per tenant: an id
 * another tenant uses is, to this caller, a free id (its own job, in its own namespace). While
 * Redis is away the enqueue waits for it, at most PROMPTQ_ENQUEUE_TIMEOUT_MS (queue.ts).
 */
export async function addJob({ queue }: RouteContext, req: Request): Promise<Reply> {
  const added = await queue.add(scopeJobBody(principalOf(req), req.body));
  return { status: added.created ? 202 : 200, body: { id: added.id, state: added.state } };
}

/** `POST /v1/jobs/batch`: `{"jobs": [...]}`, all or none. */
export async function addJobBatch({ queue }: RouteContext, req: Request): Promise<Reply> {
  const body = req.body as { jobs?: unknown } | undefined;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError('invalid_request', 'body: must be {"jobs":[...]}');
  }
  const extra = Object.keys(body).filter((k) => k !== 'jobs');
  if (extra.length > 0) throw new HttpError('invalid_request', `${extra[0]}: unknown field`);
  const jobs = Array.isArray(body.jobs)
    ? body.jobs.map((j, i) => scopeJobBody(principalOf(req), j, `jobs.${i}.tenant_id`))
    : body.jobs;
  return { status: 202, body: await queue.addBatch(jobs) };
}

/**
 * Which job `GET /v1/jobs/:id` (and its event stream) names: a tenant's in its own namespace; the
 * admin's any, by `?tenant=`.
 */
export function jobRefOf(req: Request): JobRef {
  const id = String(req.params.id);
  const principal = principalOf(req);
  if (principal?.kind === 'tenant') return { id, tenant: principal.tenant };
  const tenant = req.query.tenant;
  if (tenant === undefined) return id;
  if (typeof tenant !== 'string' || tenant === '')
    throw new HttpError('invalid_request', 'tenant: must be a name');
  return { id, tenant };
}

/** `GET /v1/jobs/:id[?wait=S]`: the job view, at once or when the job ends (at most S seconds). */
export async function getJob({ queue, maxWaitSeconds }: RouteContext, req: Request): Promise<Reply> {
  // A long poll waits for its job, not for Redis: PROMPTQ_REDIS_TIMEOUT_MS at most (a read without
  // `wait` runs within that deadline as a whole: routes.ts).
  await whenReady(queue.connection, queue.config.redis.requestDeadlineMs);
  const id = String(req.params.id);
  const ref = jobRefOf(req);
  const rawWait = req.query.wait;
  let view: JobView | null;
  if (rawWait === undefined) {
    view = await queue.get(ref);
  } else {
    const seconds = String(rawWait);
    if (!/^\d+(\.\d+)?$/.test(seconds) || Number(seconds) > maxWaitSeconds) {
      throw new HttpError('invalid_request', `wait: must be a number of seconds from 0 to ${maxWaitSeconds}`);
    }
    const abort = new AbortController();
    req.on('close', () => abort.abort());
    view = await queue.wait(ref, Number(seconds) * 1000, abort.signal);
  }
  return { status: 200, body: visible(view, req, id) };
}

/** The job as the asker may see it: another tenant's job is, to a tenant, no job at all (404). */
function visible(view: JobView | null, req: Request, id: string): JobView {
  if (view && mayAccess(principalOf(req), view.request)) return view;
  // The admin's answer says where a tenant's ids are; a tenant's is the same for every id.
  const hint =
    principalOf(req)?.kind === 'admin' && req.query.tenant === undefined
      ? " (a tenant's own ids are read with ?tenant=NAME)"
      : '';
  throw new HttpError('not_found', `no job with id "${id}"${hint}`);
}
