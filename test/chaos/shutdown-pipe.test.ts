import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ServedResponse,
  type Simulator,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { PromptQueue } from '../../src/producer/queue.js';
import type { RedisConnection } from '../../src/store/connection.js';
import { uniqueQueue } from '../helpers/stack.js';
import { redisEnv, testRedis, testSettings } from '../helpers/topology.js';
import { until } from './helpers.js';

const entry = fileURLToPath(new URL('../helpers/cli-entry.ts', import.meta.url));

/**
 * `promptq start 2>&1 | cat`, then Ctrl-C kills the reader first (issue 25, item 2): promptq's
 * output and log go to a pipe whose reader is gone (every write is EPIPE), and SIGINT must still
 * drain: the calls in flight finish, their jobs complete (none left `active`), exit 0.
 */
describe('chaos: shutdown with a broken output pipe', () => {
  let sim: Simulator;
  let q: PromptQueue;
  let redis: RedisConnection;
  const kill: Array<() => void> = [];
  afterEach(async () => {
    for (const k of kill.splice(0)) k();
    await q?.close();
    redis?.disconnect();
    await sim?.close();
  });

  it('the pipe reader dies, then SIGINT: in-flight jobs complete, none left active, exit 0', async () => {
    const served: ServedResponse[] = [];
    sim = await startSimulator({
      seed: 25,
      ttftMs: 1500,
      msPerToken: 5,
      output: { cap: 100 },
      onServed: (r) => served.push(r),
    });
    const queue = uniqueQueue();
    redis = testRedis();
    q = new PromptQueue({ connection: redis, queue, ...testSettings() });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++)
      ids.push((await q.add({ model: 'claude-haiku-4-5', max_tokens: 100, prompt: `pipe ${i}` })).id);

    // The reader: `cat`, holding the only read end of the pipe promptq writes stdout and stderr to.
    const reader = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    kill.push(() => reader.kill('SIGKILL'));
    let seen = '';
    reader.stdout.on('data', (d) => {
      seen += d;
    });
    const promptq = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', entry, 'start'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        ...redisEnv(),
        ANTHROPIC_API_KEY: 'sk-ant-pipe-0000000000',
        ANTHROPIC_BASE_URL: sim.url,
        PROMPTQ_QUEUE: queue,
        PROMPTQ_CONCURRENCY: '4',
        PORT: '0',
      },
      // `2>&1 | cat`: stdout and stderr into the one pipe.
      stdio: ['ignore', reader.stdin, reader.stdin],
    });
    kill.push(() => promptq.kill('SIGKILL'));
    const exited = new Promise<number | null>((resolve) => promptq.once('exit', (code) => resolve(code)));
    // Our own copy of the write end is not needed: only promptq writes to the pipe.
    reader.stdin.destroy();
    await until(() => seen.includes('promptq running'), 'promptq to run', 60_000);
    await until(() => sim.stats().inFlight === 4, 'four calls in flight', 30_000);

    // Ctrl-C: the reader dies first, then promptq gets SIGINT and logs into the broken pipe.
    reader.kill('SIGKILL');
    await new Promise((r) => reader.once('exit', r));
    promptq.kill('SIGINT');
    const code = await exited;

    const counts = await q.queue.getJobCounts('active', 'completed', 'failed');
    const completedCalls = served.filter((r) => r.outcome === 'completed').length;
    console.log(
      `shutdown-pipe ${JSON.stringify({ exit_code: code, ...counts, calls_completed: completedCalls })}`,
    );
    expect(code).toBe(0);
    expect(counts.active).toBe(0);
    expect(counts.failed).toBe(0);
    // The four in flight at the signal finished and their jobs completed; no call was cut off.
    expect(counts.completed).toBeGreaterThanOrEqual(4);
    expect(served.filter((r) => r.outcome === 'aborted')).toHaveLength(0);
    expect(completedCalls).toBe(counts.completed);
  }, 120_000);
});
