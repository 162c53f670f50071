/**
 * The job routes' handlers: enqueue one job, enqueue a batch, read (or wait for) a job. A tenant
 * sees only its own jobs: another tenant's job is, to it, no job at all (404), and an id another
 * tenant's job holds is refused (403) without showing anything of that job.
 */
import type { Request } from 'express';
import { JobConflictError } from '../../producer/conflicts.js';
import type { JobView } from '../../producer/job-view.js';
import type { PromptQueue } from '../../producer/queue.js';
import { whenReady } from '../../store/redis-deadline.js';
import { HttpError } from './errors.js';
import type { Reply, RouteContext } from './handler.js';
import { mayAccess, principalOf, scopeJobBody } from './tenant-auth.js';

/** `POST /v1/jobs`: 202 when added, 200 when the id was there already. */
export async function addJob({ queue }: RouteContext, req: Request): Promise<Reply> {
  const body = scopeJobBody(principalOf(req), req.body);
  const added = await queue.add(body).catch(async (err: unknown) => {
    // A clash with another tenant's job is that tenant's business: the same 403 as below.
    if (err instanceof JobConflictError)
      await refuseOthersJob(queue, req, (body as { id?: unknown } | null)?.id);
    throw err;
  });
  // The id is another tenant's job: say so, show nothing of it.
  if (!added.created) await refuseOthersJob(queue, req, added.id);
  return { status: added.created ? 202 : 200, body: { id: added.id, state: added.state } };
}

/** A tenant names an id that another tenant's job holds: 403 (the one tenant check of an id). */
async function refuseOthersJob(queue: PromptQueue, req: Request, id: unknown): Promise<void> {
  const principal = principalOf(req);
  if (principal?.kind !== 'tenant' || typeof id !== 'string') return;
  const existing = await queue.get(id);
  if (existing && !mayAccess(principal, existing.request))
    throw new HttpError('forbidden', `id: "${id}" is taken by another tenant's job`);
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

/** `GET /v1/jobs/:id[?wait=S]`: the job view, at once or when the job ends (at most S seconds). */
export async function getJob({ queue, maxWaitSeconds }: RouteContext, req: Request): Promise<Reply> {
  // A long poll waits for its job, not for Redis: PROMPTQ_REDIS_TIMEOUT_MS at most (a read without
  // `wait` runs within that deadline as a whole: routes.ts).
  await whenReady(queue.connection, queue.config.redis.requestDeadlineMs);
  const id = String(req.params.id);
  const rawWait = req.query.wait;
  let view: JobView | null;
  if (rawWait === undefined) {
    view = await queue.get(id);
  } else {
    const seconds = String(rawWait);
    if (!/^\d+(\.\d+)?$/.test(seconds) || Number(seconds) > maxWaitSeconds) {
      throw new HttpError('invalid_request', `wait: must be a number of seconds from 0 to ${maxWaitSeconds}`);
    }
    // Another tenant's job answers 404 at once, not after the wait (its timing says nothing).
    if (principalOf(req)?.kind === 'tenant') visible(await queue.get(id), req, id);
    const abort = new AbortController();
    req.on('close', () => abort.abort());
    view = await queue.wait(id, Number(seconds) * 1000, abort.signal);
  }
  return { status: 200, body: visible(view, req, id) };
}

/** The job as the asker may see it: another tenant's job is, to a tenant, no job at all (404). */
function visible(view: JobView | null, req: Request, id: string): JobView {
  if (!view || !mayAccess(principalOf(req), view.request))
    throw new HttpError('not_found', `no job with id "${id}"`);
  return view;
}
