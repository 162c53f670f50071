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
import { type ConditionResult, type HarnessOptions, runCondition } from './client.js';
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
  const server = new TestRedis();
  await server.start();
  const conns = Array.from(
    { length: maxProcesses },
    () => new Redis(server.url, { maxRetriesPerRequest: 1 }),
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

/** Run `ids` on `jobs` child processes; `onResult` sees each as it comes. */
export async function runParallel(
  ids: string[],
  options: HarnessOptions,
  jobs = Math.max(1, availableParallelism()),
  onResult: (r: ConditionResult) => void = () => {},
): Promise<ConditionResult[]> {
  const queue = [...ids];
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
  return results;
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
