/**
 * Baselines without a queue: N concurrent `messages.create` calls straight through the SDK, with
 * its built-in retries, optionally paced by a hand-configured Bottleneck.
 */
import Anthropic from '@anthropic-ai/sdk';
import Bottleneck from 'bottleneck';
import { modelGroup } from '../../src/core/models.js';
import { feed, JobFifo } from './feed.js';
import type { BenchJob, JobOutcome, RunContext, Runner } from './types.js';

/** The key the benchmark gives every client; the simulator accepts any non-empty key. */
export const benchApiKey = 'sk-ant-bench-local-only';

export function sdkClient(simUrl: string, maxRetries: number): Anthropic {
  return new Anthropic({ apiKey: benchApiKey, baseURL: simUrl, maxRetries });
}

/** One non-streaming call for a bench job. */
export async function callOnce(client: Anthropic, job: BenchJob): Promise<void> {
  await client.messages.create({
    model: job.body.model,
    max_tokens: job.body.max_tokens,
    messages: [{ role: 'user', content: job.body.prompt }],
    // S8's cached system prompt: the very request promptq sends.
    ...(job.body.system !== undefined
      ? { system: job.body.system as Anthropic.MessageCreateParams['system'] }
      : {}),
    ...(job.tenant !== undefined ? { metadata: { user_id: job.tenant } } : {}),
  });
}

/**
 * `workers` instances × `concurrency` consumer loops over one FIFO; each instance gets its own
 * `call` (its own client and, for Bottleneck, its own limiter — as separate processes would).
 */
async function pool(
  ctx: RunContext,
  makeCall: () => (job: BenchJob) => Promise<void>,
): Promise<JobOutcome[]> {
  const fifo = new JobFifo();
  const outcomes: JobOutcome[] = [];
  const loops: Promise<void>[] = [];
  for (let w = 0; w < ctx.workers; w++) {
    const call = makeCall();
    for (let c = 0; c < ctx.concurrency; c++) {
      loops.push(
        (async () => {
          for (;;) {
            const item = await fifo.take();
            if (item === null) return;
            let ok = true;
            try {
              await call(item.job);
            } catch {
              ok = false;
            }
            outcomes.push({
              id: item.job.id,
              tenant: item.job.tenant,
              enqueuedAt: item.enqueuedAt,
              finishedAt: Date.now(),
              ok,
            });
            ctx.progress(outcomes.length);
          }
        })(),
      );
    }
  }
  await feed(ctx.jobs, ctx.begin().t0, (batch) => fifo.push(batch));
  fifo.close();
  await Promise.all(loops);
  return outcomes;
}

/** The SDK alone with `maxRetries` (2 is its default). */
export function sdkRunner(maxRetries: number): Runner {
  return (ctx) =>
    pool(ctx, () => {
      const client = sdkClient(ctx.simUrl, maxRetries);
      return (job) => callOnce(client, job);
    });
}

/**
 * Bottleneck set to the target share of the true limit the way its docs suggest: `minTime = 1000 /
 * (jobs per second)`, `maxConcurrent` = the in-flight bound, SDK default retries inside. Each
 * instance (worker) stands for a separate process with its own limiter, so a careful user gives
 * each its share of the account's rate (`workers` × `minTime`); with separate limits per model
 * family (S9), one limiter per family. Where input tokens bind (S2), each call also goes through a
 * second Bottleneck whose `reservoir` holds input tokens (and `minTime` follows the request limit), each job weighing its own: the reservoir
 * starts empty (as the account's bucket does) and gains a quarter second's tokens every 250 ms,
 * at most one second's worth banked. (A weight counts against `maxConcurrent` too, so the weighted
 * limiter is a separate one without it.) Where tenants compete (S5), the urgent tenant's jobs get a
 * higher `priority`.
 */
export const bottleneckRunner: Runner = async (ctx) => {
  const outcomes: JobOutcome[] = [];
  const calls: Promise<void>[] = [];
  // One client and one set of limiters per worker, as separate processes would have; jobs are
  // handed to the workers in turn and scheduled as they arrive (Bottleneck holds the queue, so its
  // priority can act on every waiting job).
  const processes = Array.from({ length: ctx.workers }, () => {
    const client = sdkClient(ctx.simUrl, 2);
    const whole = bottleneckFor(ctx, ctx.jobsPerSecond);
    const byGroup = new Map(
      Object.entries(ctx.groupJobsPerSecond ?? {}).map(([g, r]) => [g, bottleneckFor(ctx, r)]),
    );
    return (job: BenchJob) =>
      (byGroup.get(modelGroup(job.body.model)) ?? whole)(job, () => callOnce(client, job));
  });
  const finish = (job: BenchJob, enqueuedAt: number, ok: boolean) => {
    outcomes.push({ id: job.id, tenant: job.tenant, enqueuedAt, finishedAt: Date.now(), ok });
    ctx.progress(outcomes.length);
  };
  let next = 0;
  await feed(ctx.jobs, ctx.begin().t0, (batch) => {
    const enqueuedAt = Date.now();
    for (const job of batch) {
      const run = processes[next++ % processes.length]!;
      calls.push(
        run(job).then(
          () => finish(job, enqueuedAt, true),
          () => finish(job, enqueuedAt, false),
        ),
      );
    }
  });
  await Promise.all(calls);
  return outcomes;
};

/** Schedules one job's call through a process's limiters. */
type Schedule = (job: BenchJob, call: () => Promise<void>) => Promise<void>;

/** One process's Bottleneck for `jobsPerSecond` of the account, and its token reservoir if any. */
export function bottleneckFor(ctx: RunContext, jobsPerSecond: number): Schedule {
  // Where tokens bind, the tokens pace the jobs; requests are spaced by the request limit.
  const requests = new Bottleneck({
    minTime: (1000 * ctx.workers) / (ctx.requestsPerSecond ?? jobsPerSecond),
    maxConcurrent: ctx.concurrency,
  });
  const perProcess = ctx.tokensPerSecond === undefined ? undefined : ctx.tokensPerSecond / ctx.workers;
  const tokens =
    perProcess === undefined
      ? undefined
      : new Bottleneck({
          reservoir: 0,
          // Bottleneck adds at most one increase per heartbeat (250 ms by default): a shorter
          // interval would silently refill slower than asked.
          reservoirIncreaseInterval: 250,
          reservoirIncreaseAmount: Math.ceil(perProcess / 4),
          reservoirIncreaseMaximum: Math.ceil(perProcess),
        });
  return (job, call) => {
    const { weight, priority } = bottleneckJobOptions(ctx, job);
    const withTokens = tokens ? () => tokens.schedule({ weight }, call) : call;
    return requests.schedule(priority === undefined ? {} : { priority }, withTokens);
  };
}

/** A job's Bottleneck options: its token weight where tokens bind, its tenant's priority. */
export function bottleneckJobOptions(ctx: RunContext, job: BenchJob): Bottleneck.JobOptions {
  return {
    ...(ctx.tokensPerSecond !== undefined ? { weight: job.inputTokens } : {}),
    ...(ctx.urgentTenant !== undefined ? { priority: job.tenant === ctx.urgentTenant ? 1 : 5 } : {}),
  };
}
