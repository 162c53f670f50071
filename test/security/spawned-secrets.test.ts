/**
 * Secrets as a real process holds them: `promptq start` spawned with a real-looking
 * `ANTHROPIC_API_KEY`. After successes and failures, it is in no Redis key, stderr line, /metrics,
 * error body or Bull Board answer. The control plants the key in a job and shows the same scan
 * finds it in every place it looks. Credentials inside `ANTHROPIC_BASE_URL` or `REDIS_URL` are
 * never printed either.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { dumpRedis } from '../helpers/redis-dump.js';
import { get, post, uniqueQueue } from '../helpers/stack.js';

// Made at run time in the real key's shape, so no key-like string sits in the repository.
const apiKey = `sk-ant-api03-${randomBytes(36).toString('base64url')}-spawnedSECRET`;
const proxyUser = 'proxyUSERsecret42';
const proxyPass = 'proxyPASSsecret-9f8e7d';
const secrets = [apiKey];

describe('secrets in a spawned promptq start', () => {
  let sim: Simulator | undefined;
  let proc: CliProcess | undefined;
  const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  afterEach(async () => {
    if (proc && proc.proc.exitCode === null) {
      proc.proc.kill('SIGTERM');
      await proc.exited;
    }
    await sim?.close();
    sim = proc = undefined;
  });

  /** Every place a secret could show, as [where, text]. */
  async function surfaces(url: string, queue: string, ids: string[]): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = [];
    for (const [k, v] of await dumpRedis(redis)) if (k.includes(queue)) out.push([`redis ${k}`, `${k} ${v}`]);
    out.push(['stderr', proc!.stderr()], ['stdout', proc!.stdout()]);
    out.push(['/metrics', (await get(`${url}/metrics`)).body.text as string]);
    for (const id of ids)
      out.push([`GET /v1/jobs/${id}`, JSON.stringify((await get(`${url}/v1/jobs/${id}`)).body)]);
    for (const status of ['completed', 'failed']) {
      const board = await get(`${url}/admin/queues/api/queues?activeQueue=${queue}&status=${status}&page=1`);
      out.push([`board ${status}`, JSON.stringify(board.body)]);
    }
    const bad = await post(`${url}/v1/jobs`, { model: 'claude-haiku-4-5', max_tokens: 0, prompt: 'x' });
    out.push(['error body', JSON.stringify(bad.body)]);
    return out;
  }
  const hits = (where: Array<[string, string]>, needle: string) =>
    where.filter(([, text]) => text.includes(needle)).map(([w]) => w);

  it('the API key is nowhere; planted, the scan finds it everywhere', async () => {
    sim = await startSimulator({ apiKey, seed: 5 });
    // A success, then a 500 and a 401 (a failure), then successes.
    sim.script([{ ok: true }, { status: 401 }]);
    const queue = uniqueQueue();
    proc = spawnCli(['start'], {
      REDIS_URL: inject('redisUrl'),
      ANTHROPIC_API_KEY: apiKey,
      ANTHROPIC_BASE_URL: sim.url,
      PROMPTQ_QUEUE: queue,
      PORT: '0',
      PROMPTQ_LOG_LEVEL: 'debug',
      PROMPTQ_MAX_ATTEMPTS: '1',
    });
    const running = await proc.waitForLog((l) => l.msg === 'promptq running');
    const url = running.url as string;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await post(`${url}/v1/jobs`, {
        model: 'claude-haiku-4-5',
        max_tokens: 16,
        prompt: `hi ${i}`,
      });
      ids.push(String(r.body.id));
      await get(`${url}/v1/jobs/${r.body.id}?wait=20`);
    }
    const states = await Promise.all(ids.map(async (id) => (await get(`${url}/v1/jobs/${id}`)).body.state));
    expect(states.sort()).toEqual(['completed', 'completed', 'failed']);

    const where = await surfaces(url, queue, ids);
    expect(where.length).toBeGreaterThan(8);
    for (const s of secrets) expect(hits(where, s), s).toEqual([]);

    // Control: the same strings in a job's prompt and tenant show up where the scan looks.
    const planted = await post(`${url}/v1/jobs`, {
      model: 'claude-haiku-4-5',
      max_tokens: 16,
      prompt: secrets.join(' '),
    });
    await get(`${url}/v1/jobs/${planted.body.id}?wait=20`);
    const again = await surfaces(url, queue, [...ids, String(planted.body.id)]);
    for (const s of secrets) {
      const found = hits(again, s);
      expect(
        found.some((w) => w.startsWith('redis ')),
        s,
      ).toBe(true);
      expect(found, s).toContain(`GET /v1/jobs/${planted.body.id}`);
      expect(found, s).toContain('board completed');
    }
  }, 60_000);

  it('credentials in ANTHROPIC_BASE_URL: refused at start, the message shows them redacted', async () => {
    const base = new URL('http://127.0.0.1:9/');
    base.username = proxyUser;
    base.password = proxyPass;
    proc = spawnCli(['start'], {
      REDIS_URL: inject('redisUrl'),
      ANTHROPIC_API_KEY: apiKey,
      ANTHROPIC_BASE_URL: base.toString(),
      PORT: '0',
    });
    expect(await proc.exited).toBe(2);
    expect(proc.stderr()).toMatch(
      /ANTHROPIC_BASE_URL: a user or password in the URL is not supported \(http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:9\/\)/,
    );
    for (const s of [proxyUser, proxyPass, apiKey]) expect(proc.stderr()).not.toContain(s);
  }, 30_000);

  it('a Redis URL password is not in the message of a failed start', async () => {
    proc = spawnCli(['api'], {
      REDIS_URL: `redis://someone:${proxyPass}@127.0.0.1:1`,
      PROMPTQ_QUEUE: uniqueQueue(),
      PORT: '0',
    });
    expect(await proc.exited).toBe(2);
    // The message names the host, never the credentials.
    expect(proc.stderr()).toContain('cannot reach Redis at redis://127.0.0.1:1');
    expect(proc.stderr()).not.toContain(proxyPass);
  }, 30_000);
});
