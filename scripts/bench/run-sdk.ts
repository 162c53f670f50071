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
 * family (S9), one limiter per family.
 */
export const bottleneckRunner: Runner = (ctx) =>
  pool(ctx, () => {
    const client = sdkClient(ctx.simUrl, 2);
    const make = (jobsPerSecond: number) =>
      new Bottleneck({ minTime: (1000 * ctx.workers) / jobsPerSecond, maxConcurrent: ctx.concurrency });
    const whole = make(ctx.jobsPerSecond);
    const byGroup = new Map(Object.entries(ctx.groupJobsPerSecond ?? {}).map(([g, r]) => [g, make(r)]));
    return (job) => {
      const limiter = byGroup.get(modelGroup(job.body.model)) ?? whole;
      return limiter.schedule(() => callOnce(client, job));
    };
  });
