import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { RedisConnection as Redis } from '../../src/store/connection.js';
import { spawnCli } from '../helpers/cli.js';
import { dumpRedis } from '../helpers/redis-dump.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';

const admin = 'admin-token-secrets-0123456789';

/** Keys whose value (read by type, and as DUMP's serialized bytes) or name holds `needle`. */
async function redisHits(redis: Redis, needle: string): Promise<string[]> {
  const hits = new Set<string>();
  for (const [key, value] of await dumpRedis(redis)) {
    if (key.includes(needle) || value.includes(needle)) hits.add(key);
    const raw = await redis.dumpBuffer(key);
    if (raw?.includes(needle)) hits.add(key);
  }
  return [...hits];
}

describe('tenant tokens stay secret', () => {
  let s: Stack | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('created by the real CLI and used on the API: the token is in no Redis key, log line, /metrics or answer; a raw write of it is found', async () => {
    s = await startStack({ env: { PROMPTQ_AUTH_TOKEN: admin, PROMPTQ_LOG_LEVEL: 'debug' } });
    const env = { REDIS_URL: s.config.redis.url, PROMPTQ_QUEUE: s.config.queue, PROMPTQ_LOG_LEVEL: 'debug' };
    const add = spawnCli(['tenants', 'add', 'leaky', '--daily-usd', '1'], env);
    expect(await add.exited).toBe(0);
    const token = add.stdout().trim();
    expect(token).toMatch(/^pqt_/);
    const auth = { authorization: `Bearer ${token}` };

    // Use it: a job that runs, a refused tenant_id, a read, a wait.
    const answers: string[] = [];
    const job = await post(
      `${s.url}/v1/jobs`,
      { model: 'claude-haiku-4-5', max_tokens: 20, prompt: 'hi' },
      auth,
    );
    const forbidden = await post(
      `${s.url}/v1/jobs`,
      { model: 'claude-haiku-4-5', max_tokens: 5, prompt: 'x', tenant_id: 'other' },
      auth,
    );
    expect(forbidden.status).toBe(403);
    const done = await get(`${s.url}/v1/jobs/${job.body.id}?wait=20`, auth);
    expect(done.body.state).toBe('completed');
    answers.push(JSON.stringify(job.body), JSON.stringify(forbidden.body), JSON.stringify(done.body));
    const list = spawnCli(['tenants', 'list', '--json'], env);
    expect(await list.exited).toBe(0);
    answers.push(list.stdout(), add.stderr(), list.stderr());
    answers.push(
      JSON.stringify((await get(`${s.url}/v1/tenants`, { authorization: `Bearer ${admin}` })).body),
    );

    const metrics = (await get(`${s.url}/metrics`, { authorization: `Bearer ${admin}` })).body.text as string;
    expect(metrics).toContain('promptq_tenant_spent_usd{tenant="leaky",period="day"}');
    expect(metrics).not.toContain(token);
    const logs = s.rawLogs.join('\n');
    expect(logs).toContain(job.body.id as string);
    expect(logs).not.toContain(token);
    for (const a of answers) expect(a).not.toContain(token);

    // Redis holds the digest, never the token.
    const digest = createHash('sha256').update(token).digest('hex');
    expect((await redisHits(s.redis, digest)).length).toBeGreaterThan(0);
    expect(await redisHits(s.redis, token)).toEqual([]);
    // The control: the same scan finds the token once it is written in the clear.
    const control = `${s.svc.queue.keys.base}:control`;
    await s.redis.set(control, `prefix ${token} suffix`);
    expect(await redisHits(s.redis, token)).toEqual([control]);
    await s.redis.del(control);
  }, 90_000);
});
