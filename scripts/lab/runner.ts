/**
 * Runs conditions in parallel: child processes (this file, forked), each with a private
 * redis-server on a random port and one connection per simulated worker process. The parent hands
 * out condition ids one at a time (a child recomputes the condition from its id: the draw is
 * deterministic) and gathers the results.
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { TestRedis } from '../lib/redis-server.js';
import { type ConditionResult, type HarnessOptions, runCondition, stepBudget } from './client.js';
import { conditionById } from './conditions.js';

const maxProcesses = 8;

type ToChild = { run: string; options: HarnessOptions } | { exit: true };
type FromChild = { result: ConditionResult } | { error: string; id: string } | { ready: true };

/** A private Redis and its connections, for running conditions in this process. */
export async function labRedis(): Promise<{
  conns: Redis[];
  close: () => Promise<void>;
  flush: () => Promise<void>;
}> {
  // Over a unix socket: a round trip costs both processes less CPU than over loopback TCP, whose
  // socket write was the largest part of a child's own CPU (docs/limiter-lab.md, "Limits").
  const server = new TestRedis({ unixSocket: true });
  await server.start();
  const conns = Array.from(
    { length: maxProcesses },
    () => new Redis({ path: server.socketPath, maxRetriesPerRequest: 1 }),
  );
  await Promise.all(conns.map((c) => c.ping()));
  return {
    conns,
    flush: async () => {
      await conns[0]?.flushall();
    },
    close: async () => {
      for (const c of conns) c.disconnect();
      await server.stop();
    },
  };
}

/**
 * `ids` with the costliest first, by {@link stepBudget} (of a condition's own figures the one its
 * real time follows best): handed out so, the run does not end on one child still running a slow
 * condition drawn last (the named `scale-4proc`, listed last, was the slowest of its run) while the
 * others idle.
 */
export function costliestFirst(ids: string[]): string[] {
  const cost = new Map(ids.map((id) => [id, stepBudget(conditionById(id))]));
  return [...ids].sort((a, b) => (cost.get(b) ?? 0) - (cost.get(a) ?? 0));
}

/** `results` in the order of `ids` (they arrive in the order the children end them). */
export function inOrderOf(ids: string[], results: ConditionResult[]): ConditionResult[] {
  const order = new Map(ids.map((id, i) => [id, i]));
  return [...results].sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}

/**
 * Run `ids` on `jobs` child processes, the costliest first; `onResult` sees each as it comes. The
 * results come back in the order of `ids`.
 */
export async function runParallel(
  ids: string[],
  options: HarnessOptions,
  jobs = Math.max(1, availableParallelism()),
  onResult: (r: ConditionResult) => void = () => {},
): Promise<ConditionResult[]> {
  const queue = costliestFirst(ids);
  const results: ConditionResult[] = [];
  const file = fileURLToPath(import.meta.url);
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const child = fork(file, ['--child'], {
        execArgv: process.execArgv,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const next = () => {
        const id = queue.shift();
        child.send((id === undefined ? { exit: true } : { run: id, options }) satisfies ToChild);
      };
      child.on('message', (m: FromChild) => {
        if ('error' in m) {
          child.kill();
          reject(new Error(`condition ${m.id}: ${m.error}`));
          return;
        }
        if ('result' in m) {
          results.push(m.result);
          onResult(m.result);
        }
        next();
      });
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`lab child exited with ${code}`)),
      );
    });
  await Promise.all(Array.from({ length: Math.min(jobs, ids.length) }, one));
  return inOrderOf(ids, results);
}

async function child(): Promise<void> {
  const redis = await labRedis();
  const send = (m: FromChild) => process.send?.(m);
  process.on('message', async (m: ToChild) => {
    if ('exit' in m) {
      await redis.close();
      process.exit(0);
    }
    try {
      const result = await runCondition(conditionById(m.run), redis.conns, m.options);
      await redis.flush();
      send({ result });
    } catch (err) {
      send({ error: err instanceof Error ? (err.stack ?? err.message) : String(err), id: m.run });
    }
  });
  send({ ready: true });
}

if (process.argv[2] === '--child' && process.argv[1] === fileURLToPath(import.meta.url)) await child();
