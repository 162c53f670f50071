/**
 * Idempotency keys reused for other work: a caller-given `id` that names an existing job with a
 * different request is refused ({@link JobConflictError}) rather than answered with that job.
 */
import { PromptqError } from '../core/errors.js';
import type { FieldProblem, JobRequest } from '../core/job.js';
import type { RedisConnection } from '../store/connection.js';
import { bullJobId, callerJobId, type Keyspace } from '../store/keys.js';

/**
 * An `id` that names an existing job with a different request: an idempotency key reused for other
 * work. Ids are per tenant, so it is never another tenant's job. Nothing was enqueued. `problems` names each such id's field.
 */
export class JobConflictError extends PromptqError {
  override readonly name = 'JobConflictError';
  constructor(readonly problems: FieldProblem[]) {
    const first = problems[0] ?? { field: 'id', message: 'conflict' };
    super(`${first.field}: ${first.message}`, { code: 'conflict', exitCode: 1 });
  }
}

/** JSON with every object's keys sorted: equal for equal values whatever the key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

/**
 * The work a request asks for: without its `deadline`, which a duration (`"1h"`) makes differ
 * between two submissions of the same job (the job keeps the deadline it was first given).
 */
function work(request: unknown): unknown {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) return request;
  const { deadline: _deadline, ...rest } = request as Record<string, unknown>;
  return rest;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Is `data` (a job hash's `data` field) this request, compared whole (key order and `deadline` aside)? */
export function isSameRequest(data: string, request: JobRequest): boolean {
  return canonical(work(safeParse(data))) === canonical(work(request));
}

/**
 * The stored ids among `jobs` that name an existing job whose request is not the job's own (the
 * stored data is the validated request, compared whole; key order does not matter). Ids of jobs
 * that do not exist are not among them.
 */
export async function differentRequests(
  connection: RedisConnection,
  keys: Keyspace,
  jobs: ReadonlyArray<{ id: string; request: JobRequest }>,
): Promise<string[]> {
  if (jobs.length === 0) return [];
  const pipe = connection.pipeline();
  for (const j of jobs) pipe.hget(keys.job(bullJobId(j.id)), 'data');
  const stored = (await pipe.exec()) ?? [];
  return jobs.flatMap((j, k) => {
    const [err, data] = stored[k] ?? [null, null];
    if (err) throw err;
    return typeof data === 'string' && !isSameRequest(data, j.request) ? [j.id] : [];
  });
}

/**
 * Throw {@link JobConflictError} when a caller-given id names an existing job whose request is
 * not this one. `jobs` carry stored ids (store/keys.ts `scopedJobId`); the message names the caller's.
 */
export async function checkSameRequest(
  connection: RedisConnection,
  keys: Keyspace,
  jobs: ReadonlyArray<{ id?: string | undefined; request: JobRequest }>,
  field: (i: number) => string,
): Promise<void> {
  const given = jobs.flatMap((j, i) => (j.id === undefined ? [] : [{ i, id: j.id, request: j.request }]));
  const differ = new Set(await differentRequests(connection, keys, given));
  const problems: FieldProblem[] = given
    .filter((g) => differ.has(g.id))
    .map((g) => ({
      field: field(g.i),
      message: `a job with id "${callerJobId(g.id)}" exists with a different request; use another id`,
    }));
  if (problems.length > 0) throw new JobConflictError(problems);
}
