/**
 * Baseline: BullMQ with its static rate limiter set to the target share of the true limit (kept in
 * Redis, so shared by every worker of the queue), the SDK (default 2 retries) inside the processor,
 * and `attempts` with exponential backoff on every job, as a careful user writes it: a job whose
 * call throws is retried by BullMQ and fails only when its attempts are spent.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { feed } from './feed.js';
import { callOnce, sdkClient } from './run-sdk.js';
import type { BenchJob, JobOutcome, RunContext, Runner } from './types.js';

/**
 * The limit as a user writes it: `{ max: rpm / 60, duration: 1000 }`, i.e. whole jobs per second
 * (for a non-integer rate, the smallest window holding a whole number of jobs).
 */
export function bullmqLimiter(jobsPerSecond: number): { max: number; duration: number } {
  const max = Math.max(1, Math.round(jobsPerSecond));
  return { max, duration: Math.round((1000 * max) / jobsPerSecond) };
}

/** The job options a careful user adds: retries with backoff, on top of the SDK's own. */
export const bullmqAttempts = { attempts: 5, backoff: { type: 'exponential', delay: 1_000 } } as const;

/**
 * Where tenants compete (S5), a careful user gives the urgent tenant's jobs priority 1 and every
 * other job priority 2: a job with no priority would sit in BullMQ's wait list, served before every
 * prioritized job.
 */
export function bullmqPriority(ctx: RunContext, job: BenchJob): { priority?: number } {
  if (ctx.urgentTenant === undefined) return {};
  return { priority: job.tenant === ctx.urgentTenant ? 1 : 2 };
}

export const bullmqRunner: Runner = async (ctx) => {
  const byId = new Map(ctx.jobs.map((j) => [j.id, j]));
  const outcomes: JobOutcome[] = [];
  const connections: Redis[] = [];
  const connect = () => {
    const c = new Redis(ctx.redisUrl, { maxRetriesPerRequest: null });
    connections.push(c);
    return c;
  };
  const queue = new Queue<{ id: string }>(ctx.queue, { connection: connect() });
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  const record = (job: BenchJob, enqueuedAt: number, ok: boolean) => {
    outcomes.push({ id: job.id, tenant: job.tenant, enqueuedAt, finishedAt: Date.now(), ok });
    ctx.progress(outcomes.length);
    if (outcomes.length === ctx.jobs.length) resolveDone();
  };
  const workers = Array.from({ length: ctx.workers }, () => {
    const client = sdkClient(ctx.simUrl, 2);
    const w = new Worker<{ id: string }>(
      ctx.queue,
      async (job) => {
        const bench = byId.get(job.data.id);
        if (!bench) throw new Error(`unknown bench job ${job.data.id}`);
        try {
          await callOnce(client, bench);
        } catch (err) {
          // Only the last attempt's failure is the job's outcome; earlier ones are retried.
          if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) record(bench, job.timestamp, false);
          throw err;
        }
        record(bench, job.timestamp, true);
      },
      {
        connection: connect(),
        concurrency: ctx.concurrency,
        limiter: bullmqLimiter(ctx.jobsPerSecond),
        removeOnComplete: { count: 0 },
        removeOnFail: { count: 0 },
      },
    );
    w.on('error', () => {});
    return w;
  });
  try {
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    const { t0, deadline } = ctx.begin();
    await feed(ctx.jobs, t0, async (batch) => {
      await queue.addBulk(
        batch.map((j) => ({
          name: 'bench',
          data: { id: j.id },
          opts: { ...bullmqAttempts, ...bullmqPriority(ctx, j), jobId: j.id },
        })),
      );
    });
    await Promise.race([done, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
    return [...outcomes];
  } finally {
    await Promise.all(workers.map((w) => w.close(true)));
    await queue.close();
    for (const c of connections) c.disconnect();
  }
};
