import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { PromptQueue } from '../../src/producer/queue.js';
import type { RedisConnection } from '../../src/store/connection.js';
import { spawnCli } from '../helpers/cli.js';
import { dumpRedis } from '../helpers/redis-dump.js';
import { get, post, type Stack, startStack, testApiKey, uniqueQueue } from '../helpers/stack.js';

const canary = 'PROMPT-CANARY-7f3a9c';

/** Where `needle` occurs in Redis (keys and values), as key names. */
async function redisHits(redis: RedisConnection, needle: string): Promise<string[]> {
  const dump = await dumpRedis(redis);
  return [...dump].filter(([k, v]) => k.includes(needle) || v.includes(needle)).map(([k]) => k);
}

describe('secrets: the API key never leaks', () => {
  let s: Stack | undefined;
  let sim: Simulator | undefined;
  afterEach(async () => {
    await s?.close();
    await sim?.close();
    s = sim = undefined;
  });

  it('in-process: after successes, retries and failures, the key is in no Redis key, log line, /metrics or error body; prompts are not logged', async () => {
    s = await startStack({ sim: { apiKey: testApiKey }, env: { PROMPTQ_MAX_ATTEMPTS: '2' } });
    // A 500 then success, a drop then success, then two 401s (not retried: fails), then plain successes.
    s.sim.script([{ status: 500 }, { ok: true }, { drop: true }, { ok: true }, { status: 401 }]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await post(`${s.url}/v1/jobs`, {
        model: 'claude-haiku-4-5',
        max_tokens: 20,
        prompt: `${canary} ${i}`,
      });
      ids.push(r.body.id as string);
      await get(`${s.url}/v1/jobs/${r.body.id}?wait=20`);
    }
    const views = await Promise.all(ids.map((id) => get(`${s!.url}/v1/jobs/${id}?wait=20`)));
    expect(views.map((v) => v.body.state).sort()).toEqual(['completed', 'completed', 'failed']);
    expect(s.sim.stats().byStatus[401]).toBe(1);

    expect(await redisHits(s.redis, testApiKey)).toEqual([]);
    // The scan does see job data: the canary prompt is stored with its job (so a hit would show).
    expect((await redisHits(s.redis, canary)).length).toBeGreaterThan(0);
    const logs = s.rawLogs.join('\n');
    expect(s.rawLogs.length).toBeGreaterThan(5);
    expect(logs).not.toContain(testApiKey);
    expect(logs).not.toContain(canary);
    const metrics = await get(`${s.url}/metrics`);
    expect(metrics.body.text).toContain('promptq_requests_total');
    expect(metrics.body.text).not.toContain(testApiKey);
    for (const v of views) expect(JSON.stringify(v.body)).not.toContain(testApiKey);
  });

  it('a worker process with the key in ANTHROPIC_API_KEY: not in its stderr, /metrics or Redis, even with prompt logging on', async () => {
    const key = 'sk-ant-child-SECRET-fedcba9876543210';
    sim = await startSimulator({ apiKey: key, seed: 3 });
    sim.script([{ status: 529 }, { ok: true }, { status: 401 }]);
    const queue = uniqueQueue();
    const redisUrl = inject('redisUrl');
    const worker = spawnCli(['worker'], {
      REDIS_URL: redisUrl,
      ANTHROPIC_API_KEY: key,
      ANTHROPIC_BASE_URL: sim.url,
      PROMPTQ_QUEUE: queue,
      PORT: '0',
      PROMPTQ_LOG_LEVEL: 'debug',
      PROMPTQ_LOG_PROMPTS: 'true',
      PROMPTQ_RETRY_BASE_MS: '20',
    });
    const q = new PromptQueue({ redis: { url: redisUrl }, queue });
    const redis = new Redis(redisUrl);
    try {
      const running = await worker.waitForLog((l) => l.msg === 'promptq running');
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const { id } = await q.add({ model: 'claude-haiku-4-5', max_tokens: 20, prompt: `${canary} ${i}` });
        ids.push(id);
        await q.wait(id, 20_000);
      }
      const states = await Promise.all(ids.map(async (id) => (await q.get(id))?.state));
      expect(states.sort()).toEqual(['completed', 'completed', 'failed']);
      const metrics = await get(`${running.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.body.text).not.toContain(key);
      expect(await redisHits(redis, key)).toEqual([]);
      // Prompt logging was asked for, and it works: so the stderr scan below looks at real content.
      expect(worker.stderr()).toContain(canary);
      expect(worker.stderr()).not.toContain(key);
    } finally {
      worker.proc.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(worker.stderr()).not.toContain(key);
      await q.close();
      redis.disconnect();
    }
  });
});
