/**
 * promptq with no limits configured: the service in-process for one worker, `promptq worker` child
 * processes for several (they share the account only through Redis). Jobs go in through
 * `PromptQueue`; the harness times each job by its final BullMQ event, as it times the others.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueueEvents } from 'bullmq';
import { loadConfig } from '../../src/core/config.js';
import { Logger } from '../../src/core/log.js';
import { runService } from '../../src/ops/service.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { bullJobId, scopedJobId } from '../../src/store/keys.js';
import { feed } from './feed.js';
import { benchApiKey } from './run-sdk.js';
import type { JobOutcome, RunContext, Runner } from './types.js';

/** The environment a user would give promptq here: where things are, and nothing about limits. */
export function workerEnv(
  ctx: Pick<RunContext, 'redisUrl' | 'simUrl' | 'queue' | 'concurrency' | 'adaptiveConcurrency'>,
): Record<string, string> {
  return {
    // Unset, promptq chooses (its concurrency tuner); set, it is fixed.
    ...(ctx.adaptiveConcurrency ? {} : { PROMPTQ_CONCURRENCY: String(ctx.concurrency) }),
    REDIS_URL: ctx.redisUrl,
    ANTHROPIC_API_KEY: benchApiKey,
    ANTHROPIC_BASE_URL: ctx.simUrl,
    PROMPTQ_QUEUE: ctx.queue,
    PORT: '0',
    PROMPTQ_LOG_LEVEL: 'error',
    // A run that hits its deadline should not wait long for stragglers.
    PROMPTQ_SHUTDOWN_TIMEOUT_MS: '1000',
  };
}

/** The package root (this file is scripts/bench/ in the source tree; the harness is never built). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'bin', 'promptq.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the promptq package root');
    dir = up;
  }
  return dir;
}

/**
 * A TypeScript entry point of the source tree as a child process (via tsx), with `env` and nothing
 * else of this process's environment but PATH and HOME.
 */
export function spawnSource(relPath: string, args: string[], env: Record<string, string>): ChildProcess {
  const root = packageRoot();
  return spawn(
    process.execPath,
    [
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : []),
      '--conditions=source',
      '--import',
      'tsx',
      join(root, relPath),
      ...args,
    ],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
}

/** `promptq worker` as a child process: the built CLI, or the sources via tsx when run from them. */
export function spawnWorker(env: Record<string, string>): ChildProcess {
  const root = packageRoot();
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
  if (fromSource) return spawnSource(join('test', 'helpers', 'cli-entry.ts'), ['worker'], env);
  const args = [join(root, 'bin', 'promptq.js'), 'worker'];
  return spawn(process.execPath, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/**
 * Resolves once the worker logged that it runs (the log level hides info lines, so: its port is up).
 * Two minutes at most: four workers compiling from source on a loaded 2-core machine took over 30 s.
 */
export async function workerReady(
  proc: ChildProcess,
  queue: { getWorkersCount(): Promise<number> },
  want: number,
  timeoutMs = 120_000,
): Promise<void> {
  let stderr = '';
  proc.stderr?.on('data', (d) => {
    stderr += d;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`promptq worker exited (${proc.exitCode}): ${stderr.trim()}`);
    if ((await queue.getWorkersCount()) >= want) return;
    if (Date.now() > deadline)
      throw new Error(`worker not ready after ${timeoutMs / 1000} s: ${stderr.trim()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function stopWorker(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Watches the queue's events from the harness: a job's finish time is when the harness sees its
 * `completed` or `failed` event (final outcomes only; promptq's retries are `delayed`), the same
 * way the other runners time a call returning. Start it before the first job is added.
 */
async function watch(ctx: RunContext, queue: PromptQueue) {
  const finished = new Map<string, { at: number; ok: boolean }>();
  const events = new QueueEvents(queue.queue.name, {
    connection: { url: ctx.redisUrl },
    prefix: queue.prefix,
  });
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  const on = (ok: boolean) => (args: { jobId: string }) => {
    if (finished.has(args.jobId)) return;
    finished.set(args.jobId, { at: Date.now(), ok });
    ctx.progress(finished.size);
    if (finished.size >= ctx.jobs.length) resolveDone();
  };
  events.on('completed', on(true));
  events.on('failed', on(false));
  await events.waitUntilReady();
  return { finished, done, close: () => events.close() };
}

/** Waits until every job finished (or the deadline), then reports each job as the harness saw it. */
async function collect(
  ctx: RunContext,
  watcher: Awaited<ReturnType<typeof watch>>,
  enqueuedAt: Map<string, number>,
  run: { t0: number; deadline: number },
): Promise<JobOutcome[]> {
  await Promise.race([
    watcher.done,
    new Promise((r) => setTimeout(r, Math.max(0, run.deadline - Date.now()))),
  ]);
  return ctx.jobs.map((j) => {
    // Ids are per tenant: a tenant's job is stored under its id and its tenant's tag.
    const f = watcher.finished.get(bullJobId(scopedJobId(j.id, j.tenant)));
    return {
      id: j.id,
      tenant: j.tenant,
      enqueuedAt: enqueuedAt.get(j.id) ?? run.t0 + j.enqueueAtMs,
      finishedAt: f?.at ?? null,
      ok: f?.ok ?? false,
    };
  });
}

async function enqueueAll(
  ctx: RunContext,
  queue: PromptQueue,
  t0: number,
  enqueuedAt: Map<string, number>,
): Promise<void> {
  await feed(ctx.jobs, t0, async (batch) => {
    for (let i = 0; i < batch.length; i += 1000) {
      const part = batch.slice(i, i + 1000);
      const at = Date.now();
      for (const j of part) enqueuedAt.set(j.id, at);
      await queue.addBatch(part.map((j) => ({ ...j.body, id: j.id })));
    }
  });
}

export const promptqRunner: Runner = async (ctx) => {
  const queue = new PromptQueue({ redis: { url: ctx.redisUrl }, queue: ctx.queue });
  const env = workerEnv(ctx);
  if (ctx.workers === 1) {
    const svc = await runService(
      loadConfig(env),
      { api: false, worker: true, embedRedis: false },
      new Logger('error'),
    );
    const watcher = await watch(ctx, queue);
    try {
      const run = ctx.begin();
      const enqueuedAt = new Map<string, number>();
      await enqueueAll(ctx, queue, run.t0, enqueuedAt);
      return await collect(ctx, watcher, enqueuedAt, run);
    } finally {
      await watcher.close();
      await svc.close();
      await queue.close();
    }
  }
  const procs: ChildProcess[] = [];
  const watcher = await watch(ctx, queue);
  try {
    for (let i = 0; i < ctx.workers; i++) procs.push(spawnWorker(env));
    await Promise.all(procs.map((p) => workerReady(p, queue.queue, ctx.workers)));
    const run = ctx.begin();
    const enqueuedAt = new Map<string, number>();
    await enqueueAll(ctx, queue, run.t0, enqueuedAt);
    return await collect(ctx, watcher, enqueuedAt, run);
  } finally {
    await watcher.close();
    await Promise.all(procs.map(stopWorker));
    await queue.close();
  }
};
