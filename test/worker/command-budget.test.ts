/**
 * The Redis command budget of a job: every command Redis executes for N jobs (enqueue, pickup,
 * limiter, records, rollups, tenant counters, completion; those run inside Lua scripts included),
 * counted from `INFO commandstats` deltas on a private redis-server, against a plain BullMQ worker
 * streaming the same jobs through the SDK on the same server. promptq may spend at most 1.8 times
 * the plain pipeline's commands per job (docs/sizing.md has the breakdown; measured 1.74–1.76 on the
 * loaded 2-core machine, the rollups' share moving with the run's pace; the code before the 1 s
 * rollup linger, the lock-trusting final save, the limiter's half-day PEXPIRE and the unknown
 * tenants' remembered default receiver measured 1.89 and fails it). The control adds back what a
 * per-job rollup write cost before rollups were group-committed, and must break the bound.
 */
import Anthropic from '@anthropic-ai/sdk';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { commandDelta, parseCommandStats } from '../../scripts/lib/redis-commands.js';
import { loadConfig } from '../../src/core/config.js';
import { Logger } from '../../src/core/log.js';
import { rollupEntry } from '../../src/ops/metrics/rollups.js';
import { type RunningService, runService } from '../../src/ops/service.js';
import { Keyspace } from '../../src/store/keys.js';
import { RollupStore } from '../../src/store/rollup-store.js';
import { TestRedis } from '../helpers/redis-server.js';

const jobs = 300;
/** promptq's commands per job over the plain pipeline's, at most (issue 22 asks 1.5: not reached). */
const maxRatio = 1.8;
const apiKey = 'sk-ant-budget-0123456789';
const body = (i: number) => ({
  model: 'claude-haiku-4-5',
  max_tokens: 50,
  prompt: `Summarise item ${i} in one sentence.`,
  tenant_id: `tenant-${i % 10}`,
});

let server: TestRedis;
let redis: Redis;
let sim: Simulator;

beforeAll(async () => {
  server = new TestRedis();
  await server.start();
  redis = new Redis(server.url);
  sim = await startSimulator({
    seed: 5,
    limits: { rpm: 600_000, itpm: 100_000_000, otpm: 100_000_000 },
    ttftMs: 0,
    msPerToken: 0,
  });
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await sim?.close();
  await server?.destroy();
});

/** Commands per job (and per command) Redis executed while `run` sent `jobs` jobs through. */
async function measure(run: () => Promise<void>) {
  const before = parseCommandStats(await redis.info('commandstats'));
  await run();
  const delta = commandDelta(before, parseCommandStats(await redis.info('commandstats')));
  const total = delta.reduce((a, [, c]) => a + c, 0);
  return {
    perJob: total / jobs,
    byCommand: Object.fromEntries(delta.map(([c, k]) => [c, Number((k / jobs).toFixed(2))])),
  };
}

async function until(done: () => Promise<boolean>, timeoutMs = 90_000) {
  const end = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The baseline: addBulk in, a BullMQ worker streaming each job through the SDK, with attempts. */
async function plainPipeline(): Promise<void> {
  const connection = { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null };
  const client = new Anthropic({ apiKey, baseURL: sim.url, maxRetries: 0 });
  const queue = new Queue('plain', { connection });
  const worker = new Worker(
    'plain',
    async (job) => {
      const b = job.data as ReturnType<typeof body>;
      const stream = client.messages.stream({
        model: b.model,
        max_tokens: b.max_tokens,
        messages: [{ role: 'user', content: b.prompt }],
      });
      return (await stream.finalMessage()).usage;
    },
    { connection, concurrency: 64, removeOnComplete: { age: 86_400 }, removeOnFail: { age: 86_400 } },
  );
  await worker.waitUntilReady();
  try {
    await queue.addBulk(
      Array.from({ length: jobs }, (_, i) => ({
        name: 'prompt',
        data: body(i),
        opts: { attempts: 3, backoff: { type: 'exponential', delay: 1000 } },
      })),
    );
    await until(async () => (await queue.getJobCounts('completed')).completed === jobs);
  } finally {
    await worker.close();
    await queue.close();
  }
}

/** promptq's worker on queue `name` (warmed up: the limiter knows the limits, the scripts are loaded). */
async function promptq(name: string): Promise<RunningService> {
  const config = loadConfig({
    REDIS_URL: server.url,
    ANTHROPIC_API_KEY: apiKey,
    ANTHROPIC_BASE_URL: sim.url,
    PROMPTQ_QUEUE: name,
    PORT: '0',
    PROMPTQ_CONCURRENCY: '64',
    PROMPTQ_LOG_LEVEL: 'silent',
  });
  const svc = await runService(config, { api: false, worker: true, embedRedis: false }, new Logger('silent'));
  await svc.queue.addBatch(Array.from({ length: 20 }, (_, i) => body(i)));
  await until(async () => (await svc.queue.queue.getJobCounts('completed')).completed === 20);
  return svc;
}

async function promptqJobs(svc: RunningService): Promise<void> {
  await svc.queue.addBatch(Array.from({ length: jobs }, (_, i) => body(i)));
  await until(async () => (await svc.queue.queue.getJobCounts('completed')).completed === 20 + jobs);
}

describe('Redis commands per job', () => {
  it('promptq spends at most 1.8 times the commands of a plain BullMQ worker + SDK; the control (per-job rollup writes) does not fit', async () => {
    const plain = await measure(plainPipeline);

    // Closed inside the count, as the plain worker is: what the rollups' linger still held is counted.
    const svc = await promptq('budget');
    const ours = await measure(async () => {
      await promptqJobs(svc);
      await svc.close();
    });

    // The control: the same run with what the rollups cost per job before they were group-committed.
    const ctl = await promptq('budget-control');
    const store = new RollupStore(redis as never, new Keyspace({ queue: 'budget-control' }));
    const labels = { tenantLabel: (t: string | null) => t ?? 'none', modelLabel: (m: string) => m };
    ctl.worker?.on('finished', async (e) => {
      await store.addMany([rollupEntry(e.jobId, e.status, e.record, labels)], {
        minuteSeconds: 3600,
        daySeconds: 86_400,
      });
    });
    const control = await measure(async () => {
      await promptqJobs(ctl);
      await ctl.close();
    });

    console.info(
      `commands per job: plain ${plain.perJob.toFixed(1)}, promptq ${ours.perJob.toFixed(1)}, control ${control.perJob.toFixed(1)}; ` +
        `ratio ${(ours.perJob / plain.perJob).toFixed(3)} (bound ${maxRatio})\n` +
        `promptq by command: ${JSON.stringify(ours.byCommand)}\n` +
        `plain by command: ${JSON.stringify(plain.byCommand)}`,
    );
    // Both pipelines did the work: a plain job costs Redis a few dozen commands.
    expect(plain.perJob).toBeGreaterThan(20);
    expect(ours.perJob).toBeLessThanOrEqual(maxRatio * plain.perJob);
    // The counter sees per-job writes: the control's extra ~20 commands per job break the bound.
    expect(control.perJob).toBeGreaterThan(maxRatio * plain.perJob);
    expect(control.perJob - ours.perJob).toBeGreaterThan(15);
  }, 240_000);
});
