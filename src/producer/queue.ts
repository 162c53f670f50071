/**
 * The enqueue API used by the HTTP layer, the CLI and library users:
 *
 * ```ts
 * import { PromptQueue } from 'promptq';
 * const q = new PromptQueue({ redisUrl: 'redis://127.0.0.1:6379' });
 * const { id } = await q.add({ model: 'claude-haiku-4-5', max_tokens: 200, prompt: 'Hello' });
 * const job = await q.wait(id, 30_000);
 * ```
 */
import { randomUUID } from 'node:crypto';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { combinedPriority, pendingKey, reserveRanks, tenantOf } from '../core/fairness.js';
import {
  defaultJobLimits,
  type FieldProblem,
  type JobBody,
  type JobLimits,
  type JobRecord,
  type JobRequest,
  jobIdPattern,
  newRecord,
  ValidationError,
  validateJob,
} from '../core/job.js';
import { jobKey, loadRecord } from '../store/record-store.js';
import type { JobResult } from '../worker/worker.js';

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
}

export interface PromptQueueOptions {
  /** An ioredis connection to use (not closed by {@link PromptQueue.close}). */
  connection?: Redis;
  /** Used when no `connection` is given. @defaultValue `redis://127.0.0.1:6379` */
  redisUrl?: string;
  /** @defaultValue `prompts` */
  queue?: string;
  /** BullMQ key prefix. @defaultValue `bull` */
  prefix?: string;
  /** @defaultValue {@link defaultJobLimits} */
  jobLimits?: JobLimits;
  /** Keep completed jobs this long. @defaultValue 7 days */
  keepCompletedSeconds?: number;
  /** Keep failed jobs this long. @defaultValue 30 days */
  keepFailedSeconds?: number;
  /** Largest batch for {@link PromptQueue.addBatch}. @defaultValue `1000` */
  maxBatch?: number;
}

/**
 * KEYS[1] the job's hash key, KEYS[2] a short-lived claim key for that id.
 * Returns 1 when the job does not exist and nobody else is adding it right now.
 */
const claimLua = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', 30000) then return 1 end
return 0
`;

/** Priority given to jobs that name none, so that explicit priorities 1-99 go before them. */
export const defaultPriority = 100;

export interface AddResult {
  id: string;
  state: JobState;
  /** false when a job with this `id` already existed (idempotent re-submit). */
  created: boolean;
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

export class PromptQueue {
  readonly queue: Queue;
  readonly connection: Redis;
  readonly name: string;
  readonly prefix: string;
  readonly #ownsConnection: boolean;
  readonly #limits: JobLimits;
  readonly #keepCompleted: number;
  readonly #keepFailed: number;
  readonly #maxBatch: number;

  constructor(opts: PromptQueueOptions = {}) {
    this.name = opts.queue ?? 'prompts';
    this.prefix = opts.prefix ?? 'bull';
    this.#ownsConnection = opts.connection === undefined;
    this.connection =
      opts.connection ?? new Redis(opts.redisUrl ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
    this.#limits = opts.jobLimits ?? defaultJobLimits;
    this.#keepCompleted = opts.keepCompletedSeconds ?? 7 * 24 * 3600;
    this.#keepFailed = opts.keepFailedSeconds ?? 30 * 24 * 3600;
    this.#maxBatch = opts.maxBatch ?? 1000;
    this.queue = new Queue(this.name, { connection: this.connection, prefix: this.prefix });
  }

  #jobOptions(id: string, priority: number, timestamp: number) {
    return {
      jobId: id,
      timestamp,
      priority,
      // API errors are retried by the worker itself; these cover infrastructure faults only.
      attempts: 3,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: this.#keepCompleted },
      removeOnFail: { age: this.#keepFailed },
    };
  }

  /** Validate and enqueue one job. The same `id` twice makes one job (`created: false`). */
  async add(body: JobBody | unknown): Promise<AddResult> {
    const { request, id: given, priority } = validateJob(body, this.#limits);
    const id = given ?? randomUUID();
    const created = given === undefined || (await this.#claim(id));
    // A loser of the claim adds too: BullMQ ignores an existing jobId, and this covers a winner that
    // died between its claim and its add.
    const existing = created ? null : await this.#state(id);
    if (existing !== null) return { id, state: existing, created: false };
    const [p] = await this.#priorities([{ request, priority }]);
    await this.queue.add(request.model, request, this.#jobOptions(id, p!, Date.now()));
    return { id, state: (await this.#state(id)) ?? 'waiting', created };
  }

  /** Atomically claim a caller-given id: true only for the first submitter of a job that does not exist. */
  async #claim(id: string): Promise<boolean> {
    const r = this.connection as Redis & { promptqClaimJobId(job: string, claim: string): Promise<number> };
    if (typeof r.promptqClaimJobId !== 'function') {
      r.defineCommand('promptqClaimJobId', { numberOfKeys: 2, lua: claimLua });
    }
    return (await r.promptqClaimJobId(this.#key(id), `${this.#key(id)}:promptq-claim`)) === 1;
  }

  /** Validate every job first (all-or-nothing), then enqueue them in one round trip. */
  async addBatch(bodies: unknown): Promise<{ ids: string[] }> {
    if (!Array.isArray(bodies) || bodies.length === 0) {
      throw new ValidationError([{ field: 'jobs', message: 'must be a non-empty array of job bodies' }]);
    }
    if (bodies.length > this.#maxBatch) {
      throw new ValidationError([{ field: 'jobs', message: `at most ${this.#maxBatch} jobs per batch` }]);
    }
    const problems: FieldProblem[] = [];
    const valid = bodies.map((b, i) => {
      try {
        return validateJob(b, this.#limits);
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        for (const p of err.problems) problems.push({ field: `jobs.${i}.${p.field}`, message: p.message });
        return null;
      }
    });
    const seen = new Set<string>();
    valid.forEach((v, i) => {
      if (v?.id === undefined) return;
      if (seen.has(v.id))
        problems.push({ field: `jobs.${i}.id`, message: `duplicate id "${v.id}" in this batch` });
      seen.add(v.id);
    });
    if (problems.length > 0) throw new ValidationError(problems);
    const timestamp = Date.now();
    const ok = valid.map((v) => v!);
    const priorities = await this.#priorities(ok);
    const jobs = ok.map(({ request, id }, i) => ({
      name: request.model,
      data: request,
      opts: this.#jobOptions(id ?? randomUUID(), priorities[i]!, timestamp),
    }));
    await this.queue.addBulk(jobs);
    return { ids: jobs.map((j) => j.opts.jobId) };
  }

  /**
   * Enqueue already-validated jobs with caller-chosen ids in one round trip (backfills: deterministic
   * ids make a re-run add nothing twice). Returns how many were new.
   */
  async addValidated(
    jobs: ReadonlyArray<{ request: JobRequest; id: string; priority?: number }>,
  ): Promise<{ added: number }> {
    if (jobs.length === 0) return { added: 0 };
    const pipe = this.connection.pipeline();
    for (const j of jobs) pipe.exists(this.#key(j.id));
    const exists = (await pipe.exec()) ?? [];
    const timestamp = Date.now();
    const fresh = jobs.filter((_, i) => exists[i]?.[1] !== 1);
    if (fresh.length > 0) {
      const priorities = await this.#priorities(fresh);
      await this.queue.addBulk(
        fresh.map((j, i) => ({
          name: j.request.model,
          data: j.request,
          opts: this.#jobOptions(j.id, priorities[i]!, timestamp),
        })),
      );
    }
    return { added: fresh.length };
  }

  /** BullMQ priorities: user priority first, then round robin between tenants (fairness.ts). */
  async #priorities(
    jobs: ReadonlyArray<{ request: JobRequest; priority?: number | undefined }>,
  ): Promise<number[]> {
    const counts = new Map<string, number>();
    for (const j of jobs) counts.set(tenantOf(j.request), (counts.get(tenantOf(j.request)) ?? 0) + 1);
    const next = await reserveRanks(this.connection, pendingKey(this.prefix, this.name), counts);
    return jobs.map((j) => {
      const t = tenantOf(j.request);
      const rank = next.get(t) ?? 0;
      next.set(t, rank + 1);
      return combinedPriority(j.priority ?? defaultPriority, rank);
    });
  }

  #key(id: string): string {
    return jobKey(this.prefix, this.name, id);
  }

  async #state(id: string): Promise<JobState | null> {
    return mapState(await this.queue.getJobState(id));
  }

  /** The job's state, request, result, record and error; `null` for an unknown id. */
  async get(id: string): Promise<JobView | null> {
    if (!jobIdPattern.test(id)) return null;
    // State first, then the job: the job's data is then at least as new as its state, so a job seen
    // as completed or failed always comes with its result or reason (the other order could pair a
    // fresh "completed" with the hash read just before it finished).
    const state = await this.#state(id);
    if (state === null) return null;
    const job = await Job.fromId<JobRequest, JobResult>(this.queue, id);
    if (!job) return null;
    const request = job.data;
    const stored = await loadRecord(this.connection, this.#key(id));
    const record = stored ?? job.returnvalue?.record ?? newRecord(request, job.timestamp);
    return {
      id,
      state,
      request,
      result: state === 'completed' ? (job.returnvalue?.message ?? null) : null,
      record,
      error:
        state === 'failed'
          ? { type: record.error_type ?? 'failed', message: job.failedReason ?? 'failed' }
          : null,
    };
  }

  /**
   * Wait until the job is completed or failed, or `timeoutMs` passes; returns its view either way
   * (`null` for an unknown id).
   */
  async wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<JobView | null> {
    const deadline = Date.now() + timeoutMs;
    let interval = 25;
    for (;;) {
      const view = await this.get(id);
      if (view === null || view.state === 'completed' || view.state === 'failed') return view;
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return view;
      await new Promise((r) => setTimeout(r, Math.min(interval, left)));
      interval = Math.min(500, interval * 2);
    }
  }

  async close(): Promise<void> {
    await this.queue.close();
    if (this.#ownsConnection) this.connection.disconnect();
  }
}
