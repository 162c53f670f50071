/**
 * promptq with no limits configured: the service in-process for one worker, `promptq worker` child
 * processes for several (they share the account only through Redis). Jobs go in through
 * `PromptQueue`; outcomes come from the job records promptq keeps.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/core/config.js';
import { Logger } from '../../src/core/log.js';
import { runService } from '../../src/ops/service.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { feed } from './feed.js';
import { benchApiKey } from './run-sdk.js';
import type { JobOutcome, RunContext, Runner } from './types.js';

/** The environment a user would give promptq here: where things are, and nothing about limits. */
function workerEnv(ctx: RunContext): Record<string, string> {
  return {
    REDIS_URL: ctx.redisUrl,
    ANTHROPIC_API_KEY: benchApiKey,
    ANTHROPIC_BASE_URL: ctx.simUrl,
    PROMPTQ_QUEUE: ctx.queue,
    PORT: '0',
    PROMPTQ_CONCURRENCY: String(ctx.concurrency),
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

/** `promptq worker` as a child process: the built CLI, or the sources via tsx when run from them. */
function spawnWorker(env: Record<string, string>): ChildProcess {
  const root = packageRoot();
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');
  const args = fromSource
    ? ['--conditions=source', '--import', 'tsx', join(root, 'test', 'helpers', 'cli-entry.ts'), 'worker']
    : [join(root, 'bin', 'promptq.js'), 'worker'];
  return spawn(process.execPath, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** Resolves once the worker logged that it runs (the log level hides info lines, so: its port is up). */
async function workerReady(proc: ChildProcess, queue: PromptQueue, want: number): Promise<void> {
  let stderr = '';
  proc.stderr?.on('data', (d) => {
    stderr += d;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`promptq worker exited (${proc.exitCode}): ${stderr.trim()}`);
    if ((await queue.queue.getWorkersCount()) >= want) return;
    if (Date.now() > deadline) throw new Error(`promptq worker not ready after 30 s: ${stderr.trim()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopWorker(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Waits until every job completed or failed (or the deadline), then reads the records. */
async function collect(
  ctx: RunContext,
  queue: PromptQueue,
  run: { t0: number; deadline: number },
): Promise<JobOutcome[]> {
  for (;;) {
    const counts = await queue.queue.getJobCounts('completed', 'failed');
    const done = (counts.completed ?? 0) + (counts.failed ?? 0);
    ctx.progress(done);
    if (done >= ctx.jobs.length || Date.now() > run.deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const outcomes: JobOutcome[] = [];
  for (let i = 0; i < ctx.jobs.length; i += 200) {
    const views = await Promise.all(ctx.jobs.slice(i, i + 200).map((j) => queue.get(j.id)));
    views.forEach((v, k) => {
      const j = ctx.jobs[i + k]!;
      const finished = v?.state === 'completed' || v?.state === 'failed';
      outcomes.push({
        id: j.id,
        tenant: j.tenant,
        enqueuedAt: v ? Date.parse(v.record.enqueued_at) : run.t0 + j.enqueueAtMs,
        finishedAt: finished && v?.record.finished_at ? Date.parse(v.record.finished_at) : null,
        ok: v?.state === 'completed',
      });
    });
  }
  return outcomes;
}

async function enqueueAll(ctx: RunContext, queue: PromptQueue, t0: number): Promise<void> {
  await feed(ctx.jobs, t0, async (batch) => {
    for (let i = 0; i < batch.length; i += 1000) {
      await queue.addBatch(batch.slice(i, i + 1000).map((j) => ({ ...j.body, id: j.id })));
    }
  });
}

export const promptqRunner: Runner = async (ctx) => {
  const queue = new PromptQueue({ redisUrl: ctx.redisUrl, queue: ctx.queue });
  const env = workerEnv(ctx);
  if (ctx.workers === 1) {
    const svc = await runService(
      loadConfig(env),
      { api: false, worker: true, embedRedis: false },
      new Logger('error'),
    );
    try {
      const run = ctx.begin();
      await enqueueAll(ctx, queue, run.t0);
      return await collect(ctx, queue, run);
    } finally {
      await svc.close();
      await queue.close();
    }
  }
  const procs: ChildProcess[] = [];
  try {
    for (let i = 0; i < ctx.workers; i++) procs.push(spawnWorker(env));
    await Promise.all(procs.map((p) => workerReady(p, queue, ctx.workers)));
    const run = ctx.begin();
    await enqueueAll(ctx, queue, run.t0);
    return await collect(ctx, queue, run);
  } finally {
    await Promise.all(procs.map(stopWorker));
    await queue.close();
  }
};
