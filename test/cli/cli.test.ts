import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { bullJobId } from '../../src/store/keys.js';
import { spawnCli } from '../helpers/cli.js';
import { freePort } from '../helpers/redis-server.js';
import { uniqueQueue } from '../helpers/stack.js';

describe('promptq CLI (real processes)', { timeout: 90_000 }, () => {
  let sim: Simulator;
  let redis: Redis;
  beforeAll(async () => {
    sim = await startSimulator({ ttftMs: 1500 });
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    redis.disconnect();
    await sim.close();
  });

  const env = (queue: string, extra: Record<string, string> = {}) => ({
    REDIS_URL: inject('redisUrl'),
    ANTHROPIC_API_KEY: 'sk-ant-test-cli-0123456789',
    ANTHROPIC_BASE_URL: sim.url,
    PROMPTQ_QUEUE: queue,
    ...extra,
  });

  it('exit 2 with a one-line reason for bad configuration and usage', async () => {
    const bad = spawnCli(['worker'], { PORT: 'eighty' });
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toMatch(/^promptq: PORT: expected a whole number/);
    const host = spawnCli(['api'], { HOST: '0.0.0.0' });
    expect(await host.exited).toBe(2);
    expect(host.stderr()).toMatch(/HOST: "0.0.0.0" is not a loopback address; set PROMPTQ_AUTH_TOKEN/);
    const unknown = spawnCli(['frobnicate'], {});
    expect(await unknown.exited).toBe(2);
    const noPrompt = spawnCli(['enqueue'], env(uniqueQueue()));
    expect(await noPrompt.exited).toBe(2);
    expect(noPrompt.stderr()).toMatch(/PROMPT/);
    const badJob = spawnCli(['enqueue', '--max-tokens', '0', 'hi'], env(uniqueQueue()));
    expect(await badJob.exited).toBe(2);
    expect(badJob.stderr()).toMatch(/invalid job: max_tokens/);
  });

  it('enqueue prints an id; enqueue --wait prints the result; a worker SIGTERMed mid-job finishes it and exits 0', async () => {
    const queue = uniqueQueue();
    const port = await freePort();
    const worker = spawnCli(['worker'], env(queue, { PORT: String(port), PROMPTQ_CONCURRENCY: '2' }));
    await worker.waitForLog((l) => l.msg === 'promptq running');
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status).toBe(200);

    const enq = spawnCli(['enqueue', '--tenant', 'acme', '--max-tokens', '50', 'Write a haiku'], env(queue));
    expect(await enq.exited).toBe(0);
    const id = enq.stdout().trim();
    expect(id).toMatch(/^[A-Za-z0-9_-]+$/);

    const q = new Queue(queue, { connection: redis });
    for (let i = 0; i < 200 && (await q.getJobState(bullJobId(id))) !== 'active'; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await q.getJobState(bullJobId(id))).toBe('active');
    worker.proc.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(await q.getJobState(bullJobId(id))).toBe('completed');
    expect(worker.logs().some((l) => l.msg === 'stopped')).toBe(true);

    // A second worker and enqueue --wait.
    const w2 = spawnCli(['worker'], env(queue, { PORT: '0' }));
    await w2.waitForLog((l) => l.msg === 'promptq running');
    const waited = spawnCli(['enqueue', '--wait', '--max-tokens', '20', 'Hello'], env(queue));
    expect(await waited.exited).toBe(0);
    const view = JSON.parse(waited.stdout());
    expect(view.state).toBe('completed');
    expect(view.record.attempts).toBe(1);
    w2.proc.kill('SIGINT');
    expect(await w2.exited).toBe(0);
    await q.close();
  });
});
