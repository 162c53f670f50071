/**
 * S10 (pipeline overhead) and S11 (a fleet on one Redis): the simulator with no latency and limits
 * far above the load, so the pipeline itself is the bottleneck. promptq (`promptq worker` child
 * processes, no limits configured, jobs added with `PromptQueue.addBatch`) against a plain BullMQ
 * worker that streams each job through the SDK (`plain-worker.ts`, jobs added with
 * `Queue.addBulk`), the same jobs in the same chunks. Both are timed by the harness the same way
 * (enqueue start → the last `completed`/`failed` event, by its stream id: Redis's clock), and the
 * private redis-server's counters are read before the first job is added and after the last one
 * finished. A warm-up batch (20 jobs per process) runs first and is not counted.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { bullJobId } from '../../src/store/keys.js';
import { TestRedis } from '../lib/redis-server.js';
import { delta, type RedisDelta, readCounters } from './redis-info.js';
import { spawnSource, spawnWorker, stopWorker, workerEnv, workerReady } from './run-promptq.js';
import { benchApiKey } from './run-sdk.js';
import { uniformJobs } from './scenarios.js';
import type { BenchJob } from './types.js';

export const pipelineIds = ['S10', 'S11'] as const;
export type PipelineId = (typeof pipelineIds)[number];
export type PipelineKind = 'plain' | 'promptq';

export interface PipelineScenario {
  id: PipelineId;
  title: string;
  jobs: BenchJob[];
  /** In-flight calls per process, the same for both pipelines. */
  concurrency: number;
  /** The runs, in table order. */
  runs: Array<{ kind: PipelineKind; processes: number }>;
  /**
   * How many times the runs are made, interleaved (plain, promptq, plain, …); the table shows each
   * pipeline's median run by jobs/s. Two processes on one small machine vary by ±15% run to run.
   */
  rounds: number;
}

/** Each pipeline × process count's median run by jobs/s (the lower middle of an even count), in run order. */
export function medianRuns(runs: readonly PipelineRun[]): PipelineRun[] {
  const groups = new Map<string, PipelineRun[]>();
  for (const r of runs) {
    const k = `${r.kind}/${r.processes}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const sorted = [...g].sort((a, b) => (a.jobsPerS ?? -1) - (b.jobsPerS ?? -1));
    return sorted[Math.floor((sorted.length - 1) / 2)] as PipelineRun;
  });
}

export interface PipelineRun {
  kind: PipelineKind;
  label: string;
  processes: number;
  jobs: number;
  completed: number;
  failed: number;
  /** Enqueue start → the last job finished (completed or failed), seconds. */
  elapsedS: number;
  /** Completed jobs per second of `elapsedS`; null when more than 5% did not complete. */
  jobsPerS: number | null;
  /** The redis-server's counters over the run (the harness's own few commands included). */
  redis: RedisDelta;
  /** CPU seconds the worker processes used over the run, all threads (null where /proc is not there). */
  workerCpuS: number | null;
  /** The simulator's totals over the measured jobs (ground truth: one delivered message per completed job). */
  simulator: { requests: number; succeeded: number; rateLimited: number };
}

/** Limits far above any load this machine can make, buckets full: the API never slows a run. */
const unlimited = { rpm: 10_000_000, itpm: 10_000_000_000, otpm: 10_000_000_000 };
/** What a careful user gives BullMQ jobs: retries with backoff, and the same retention as promptq. */
export const plainJobOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 7 * 24 * 3600 },
  removeOnFail: { age: 7 * 24 * 3600 },
} as const;
/** Jobs per `addBatch`/`addBulk` call. */
const chunk = 1_000;
/** Jobs per process run (and awaited) before the measurement: loads lazily imported code, warms the JIT. */
const warmupPerProcess = 20;

export function buildPipelineScenario(id: PipelineId, jobs: number, rounds = 1): PipelineScenario {
  const base = {
    jobs: uniformJobs(id.toLowerCase(), jobs, 40, id === 'S10' ? 10 : 11),
    concurrency: 20,
    rounds,
  };
  if (id === 'S10') {
    return {
      ...base,
      id,
      title: 'pipeline overhead: an API with no latency and no limit in reach',
      runs: [
        { kind: 'plain', processes: 1 },
        { kind: 'promptq', processes: 1 },
        { kind: 'plain', processes: 4 },
        { kind: 'promptq', processes: 4 },
      ],
    };
  }
  return {
    ...base,
    id,
    title: 'a fleet: 16 worker processes against one Redis',
    runs: [
      { kind: 'plain', processes: 16 },
      { kind: 'promptq', processes: 16 },
    ],
  };
}

export const pipelineLabel = (kind: PipelineKind) =>
  kind === 'promptq' ? 'promptq worker (no limits configured)' : 'plain BullMQ worker + SDK stream';

/** Enqueue and consume with the pipeline of `kind`; the producer side of each. */
interface Side {
  /** What the workers' readiness and the events are read from. */
  queue: Queue;
  prefix: string;
  /** The BullMQ job id of a bench job. */
  bullId(id: string): string;
  add(batch: BenchJob[]): Promise<void>;
  close(): Promise<void>;
}

function side(kind: PipelineKind, redisUrl: string, name: string): Side {
  if (kind === 'promptq') {
    const pq = new PromptQueue({ redis: { url: redisUrl }, queue: name });
    return {
      queue: pq.queue,
      prefix: pq.prefix,
      bullId: bullJobId,
      add: async (batch) => {
        await pq.addBatch(batch.map((j) => ({ ...j.body, id: j.id })));
      },
      close: () => pq.close(),
    };
  }
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection });
  queue.on('error', () => {});
  return {
    queue,
    prefix: 'bull',
    bullId: (id) => id,
    add: async (batch) => {
      await queue.addBulk(
        batch.map((j) => ({ name: 'prompt', data: j.body, opts: { ...plainJobOptions, jobId: j.id } })),
      );
    },
    close: async () => {
      await queue.close();
      connection.disconnect();
    },
  };
}

function spawnPipeline(kind: PipelineKind, env: Record<string, string>): ChildProcess {
  if (kind === 'promptq') return spawnWorker(env);
  return spawnSource('scripts/bench/plain-worker.ts', [], {
    REDIS_URL: env.REDIS_URL ?? '',
    ANTHROPIC_API_KEY: benchApiKey,
    ANTHROPIC_BASE_URL: env.ANTHROPIC_BASE_URL ?? '',
    BENCH_QUEUE: env.PROMPTQ_QUEUE ?? '',
    BENCH_CONCURRENCY: env.PROMPTQ_CONCURRENCY ?? '',
  });
}

/**
 * CPU seconds (user + system, every thread) the processes have used so far, from
 * `/proc/<pid>/stat` (Linux; clock ticks of 1/100 s); null where it cannot be read.
 */
function processCpuS(procs: readonly ChildProcess[]): number | null {
  let ticks = 0;
  for (const p of procs) {
    try {
      // The fields after the command name (which may hold spaces): utime and stime are 14 and 15.
      const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      return null;
    }
  }
  return Number.isFinite(ticks) ? ticks / 100 : null;
}

/** Epoch ms of a Redis stream id (`<ms>-<seq>`). */
const streamMs = (id: string) => Number(id.split('-')[0]);

/** One pipeline × process count: a fresh simulator and redis-server, N worker processes. */
export async function runPipeline(
  s: PipelineScenario,
  kind: PipelineKind,
  processes: number,
  progress: (line: string) => void,
): Promise<PipelineRun> {
  const redis = new TestRedis();
  await redis.start();
  const sim = await startSimulator({ seed: 1, limits: unlimited, latencyMs: 0, ttftMs: 0, msPerToken: 0 });
  const name = `bench-${s.id}-${kind}-${randomUUID().slice(0, 8)}`;
  const env = workerEnv({ redisUrl: redis.url, simUrl: sim.url, queue: name, concurrency: s.concurrency });
  const producer = side(kind, redis.url, name);
  const admin = new Redis(redis.url);
  const events = new QueueEvents(name, { connection: { url: redis.url }, prefix: producer.prefix });
  const procs: ChildProcess[] = [];
  try {
    for (let i = 0; i < processes; i++) procs.push(spawnPipeline(kind, env));
    // Many processes starting at once on a small machine take a while (tsx compiles each one's sources).
    await Promise.all(
      procs.map((p) => workerReady(p, producer.queue, processes, 30_000 + processes * 10_000)),
    );
    await events.waitUntilReady();
    const tracker = trackFinished(events, producer.bullId);
    const enqueue = async (jobs: readonly BenchJob[]) => {
      for (let i = 0; i < jobs.length; i += chunk) await producer.add(jobs.slice(i, i + chunk));
    };
    const deadlineMs = 60_000 + s.jobs.length * 100;

    const warmup = uniformJobs(`${s.id.toLowerCase()}-warmup`, warmupPerProcess * processes, 40, 99);
    tracker.expect(warmup);
    await enqueue(warmup);
    await tracker.wait(deadlineMs);

    return await measure({ s, kind, processes, sim, admin, procs, tracker, enqueue, deadlineMs, progress });
  } finally {
    await Promise.all(procs.map(stopWorker));
    await events.close();
    await producer.close();
    admin.disconnect();
    await sim.close();
    await redis.destroy();
  }
}

/** Which of the expected jobs finished, how and when (by their events' stream ids: Redis's clock). */
interface FinishTracker {
  finished: Map<string, { ok: boolean; ms: number }>;
  /** Wait for these jobs from now on (forgets the ones before). */
  expect(jobs: readonly BenchJob[]): void;
  /** Until every expected job finished, or `deadlineMs` passed. */
  wait(deadlineMs: number): Promise<unknown>;
}

function trackFinished(events: QueueEvents, bullId: (id: string) => string): FinishTracker {
  const finished = new Map<string, { ok: boolean; ms: number }>();
  let want = new Set<string>();
  let resolveDone: () => void = () => {};
  let done = Promise.resolve();
  const on = (ok: boolean) => (args: { jobId: string }, id: string) => {
    if (!want.has(args.jobId) || finished.has(args.jobId)) return;
    finished.set(args.jobId, { ok, ms: streamMs(id) });
    if (finished.size >= want.size) resolveDone();
  };
  events.on('completed', on(true));
  events.on('failed', on(false));
  return {
    finished,
    expect: (jobs) => {
      want = new Set(jobs.map((j) => bullId(j.id)));
      finished.clear();
      done = new Promise<void>((r) => {
        resolveDone = r;
      });
    },
    wait: (deadlineMs) => Promise.race([done, new Promise((r) => setTimeout(r, deadlineMs))]),
  };
}

/** A warm pipeline, ready for the measured jobs. */
interface WarmRun {
  s: PipelineScenario;
  kind: PipelineKind;
  processes: number;
  sim: Simulator;
  admin: Redis;
  procs: ChildProcess[];
  tracker: FinishTracker;
  enqueue: (jobs: readonly BenchJob[]) => Promise<void>;
  deadlineMs: number;
  progress: (line: string) => void;
}

/** The measured jobs: enqueued, awaited, and the counters of Redis, the workers and the simulator around them. */
async function measure(run: WarmRun): Promise<PipelineRun> {
  const { s, kind, processes, sim, tracker, progress } = run;
  const tag = `[${s.id} ${kind} ×${processes}]`;
  tracker.expect(s.jobs);
  const simBefore = sim.stats();
  const before = await readCounters(run.admin);
  const cpuBefore = processCpuS(run.procs);
  const t0 = Date.now();
  progress(`${tag} ${processes} process(es) ready and warm; enqueueing ${s.jobs.length} jobs`);
  await run.enqueue(s.jobs);
  const ticker = setInterval(
    () =>
      progress(
        `${tag} ${tracker.finished.size}/${s.jobs.length} after ${((Date.now() - t0) / 1000).toFixed(0)} s`,
      ),
    5_000,
  );
  await tracker.wait(run.deadlineMs);
  clearInterval(ticker);
  const after = await readCounters(run.admin);
  const cpuAfter = processCpuS(run.procs);
  const simAfter = sim.stats();
  const outcomes = [...tracker.finished.values()];
  const completed = outcomes.filter((o) => o.ok).length;
  const lastMs = Math.max(t0, ...outcomes.map((o) => o.ms));
  const elapsedS = Math.max(0.001, (lastMs - t0) / 1000);
  progress(`${tag} ${completed} completed in ${elapsedS.toFixed(1)} s`);
  return {
    kind,
    label: pipelineLabel(kind),
    processes,
    jobs: s.jobs.length,
    completed,
    failed: outcomes.length - completed,
    elapsedS,
    jobsPerS: completed >= 0.95 * s.jobs.length ? completed / elapsedS : null,
    redis: delta(before, after),
    workerCpuS: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
    simulator: {
      requests: simAfter.requests - simBefore.requests,
      succeeded: simAfter.succeeded - simBefore.succeeded,
      rateLimited: simAfter.rateLimited.total - simBefore.rateLimited.total,
    },
  };
}
