import { afterEach, describe, expect, it } from 'vitest';
import {
  type ServedResponse,
  type Simulator,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { PromptQueue } from '../../src/producer/queue.js';
import type { RedisConnection } from '../../src/store/connection.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { uniqueQueue } from '../helpers/stack.js';
import { redisEnv, testRedis, testSettings } from '../helpers/topology.js';

/**
 * Cache-aware order across worker processes (src/limiter/cache-order.ts): jobs sharing a cacheable
 * prefix, picked up at once by two worker processes, pay one cache write; the others read it. The
 * writes are counted from what the simulator served, not from promptq's records.
 */
const system = [
  {
    type: 'text',
    text: 'Shared instructions for every question. '.repeat(500),
    cache_control: { type: 'ephemeral' },
  },
];
const jobs = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({
    model: 'claude-sonnet-4-5',
    max_tokens: 16,
    system,
    prompt: `${tag} question ${i}`,
  }));

describe('cache-aware order over two worker processes', { timeout: 120_000 }, () => {
  let sim: Simulator | undefined;
  let redis: RedisConnection | undefined;
  let workers: CliProcess[] = [];
  afterEach(async () => {
    for (const w of workers) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    workers = [];
    redis?.disconnect();
    await sim?.close();
  });

  /** 12 same-prefix jobs over two workers; what the simulator served them. */
  async function run(env: Record<string, string>, key: string) {
    const served: ServedResponse[] = [];
    // The answer begins 1.5 s after admission: the jobs picked up together start before it, even on a
    // loaded machine (at 400 ms a slow pickup once let the control pay a single write).
    sim = await startSimulator({
      limits: { rpm: 6000, itpm: 0, otpm: 0 },
      ttftMs: 1500,
      onServed: (r) => served.push(r),
    });
    redis = testRedis();
    const queue = uniqueQueue();
    const base = {
      ...redisEnv(),
      ANTHROPIC_API_KEY: key,
      ANTHROPIC_BASE_URL: sim.url,
      PROMPTQ_QUEUE: queue,
      PORT: '0',
      PROMPTQ_CONCURRENCY: '8',
      ...env,
    };
    workers = [spawnCli(['worker'], base), spawnCli(['worker'], base)];
    await Promise.all(workers.map((w) => w.waitForLog((l) => l.msg === 'promptq running', 60_000)));
    const q = new PromptQueue({ connection: redis, queue, ...testSettings() });
    // A job without a prefix first: the group's limits are discovered (the discovery call goes
    // alone, which would order the next calls whatever the feature).
    const warm = await q.addBatch([{ model: 'claude-sonnet-4-5', max_tokens: 4, prompt: 'warm' }]);
    await q.wait(warm.ids[0]!, 30_000);
    const { ids } = await q.addBatch(jobs(12, key));
    const views = await Promise.all(ids.map((id) => q.wait(id, 60_000)));
    await q.close();
    expect(views.every((v) => v?.state === 'completed')).toBe(true);
    const withPrefix = served.filter(
      (r) => r.usage.cache_creation_input_tokens + r.usage.cache_read_input_tokens > 0,
    );
    const perWorker = workers.map(
      (w) => w.logs().filter((l) => l.msg === 'api_attempt' && l.outcome === 'success').length,
    );
    return {
      writes: withPrefix.filter((r) => r.usage.cache_creation_input_tokens > 0).length,
      reads: withPrefix.filter((r) => r.usage.cache_read_input_tokens > 0).length,
      perWorker,
    };
  }

  it('12 same-prefix jobs over two processes: exactly one cache write served, 11 reads', async () => {
    const r = await run({}, 'sk-ant-test-cache-order-on-0123456789');
    console.log(`cache order on: ${JSON.stringify(r)}`);
    // Both processes took jobs of the prefix (the order held across them, not inside one).
    expect(r.perWorker.every((n) => n > 0)).toBe(true);
    expect(r.writes).toBe(1);
    expect(r.reads).toBe(11);
  });

  it('control: with the order off (PROMPTQ_CACHE_WRITE_WAIT_MS=0) the same jobs pay more than one write', async () => {
    const r = await run({ PROMPTQ_CACHE_WRITE_WAIT_MS: '0' }, 'sk-ant-test-cache-order-off-0123456789');
    console.log(`cache order off: ${JSON.stringify(r)}`);
    expect(r.writes).toBeGreaterThan(1);
    expect(r.writes + r.reads).toBe(12);
  });
});
