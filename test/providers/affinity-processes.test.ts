/**
 * Cache affinity across worker processes (src/limiter/prefix-affinity.ts): two real worker
 * processes serve one queue from a pool of two Anthropic accounts (each its own simulator, its own
 * key). Jobs sharing a cacheable prefix, shuffled, are picked up by both processes at once; each
 * prefix is written once in all, on one account, by the simulators' own usage (not promptq's
 * records). The control names the accounts alternately on the same jobs and pays a write on each,
 * so the count does see a prefix written on two accounts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ServedResponse,
  type Simulator,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { validateJob } from '../../src/core/job.js';
import { cachePrefixKey } from '../../src/core/tokens.js';
import { PromptQueue } from '../../src/producer/queue.js';
import type { RedisConnection } from '../../src/store/connection.js';
import { type CliProcess, spawnCli } from '../helpers/cli.js';
import { dumpRedis } from '../helpers/redis-dump.js';
import { uniqueQueue } from '../helpers/stack.js';
import { redisEnv, testKeys, testRedis, testSettings } from '../helpers/topology.js';

const keyA = 'sk-ant-affinity-a-0123456789abcdef';
const keyB = 'sk-ant-affinity-b-fedcba9876543210';
const prefixes = 10;
const perPrefix = 6;

/** A seeded shuffle (mulberry32), so a failure can be replayed from the printed seed. */
function shuffled<T>(xs: T[], seed: number): T[] {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Prefix k's jobs: a system prompt of its own length (so the simulator's cache-write tokens tell
 * the prefixes apart), unique to the run (a pin of another test cannot be reused).
 */
function jobsOf(run: string, pin?: (i: number) => string) {
  return Array.from({ length: prefixes * perPrefix }, (_, i) => {
    const k = i % prefixes;
    const text = `Run ${run}, prefix ${k}. ${'Shared instructions for every question. '.repeat(200 + 25 * k)}`;
    return {
      model: 'claude-sonnet-4-5',
      max_tokens: 16,
      system: [{ type: 'text', text, cache_control: { type: 'ephemeral' } }],
      prompt: `question ${i}`,
      ...(pin ? { account: pin(i) } : {}),
    };
  });
}

/** Cache-write tokens (one value per prefix) → how many writes of it were served. */
function writesByPrefix(served: ServedResponse[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of served) {
    const w = r.usage.cache_creation_input_tokens;
    if (w > 0) out.set(w, (out.get(w) ?? 0) + 1);
  }
  return out;
}

describe('cache affinity over two worker processes and two accounts', { timeout: 180_000 }, () => {
  let sims: Simulator[] = [];
  let workers: CliProcess[] = [];
  let redis: RedisConnection | undefined;
  afterEach(async () => {
    for (const w of workers) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    workers = [];
    redis?.disconnect();
    await Promise.all(sims.map((s) => s.close()));
    sims = [];
  });

  async function run(pin?: (i: number) => string) {
    const served: ServedResponse[][] = [[], []];
    // The answer begins 400 ms after admission: jobs of a prefix taken together by both processes
    // overlap, so an account choice made apart in each process would show.
    sims = await Promise.all(
      [keyA, keyB].map((apiKey, i) =>
        startSimulator({
          apiKey,
          seed: 11 + i,
          limits: { rpm: 6000, itpm: 0, otpm: 0 },
          ttftMs: 400,
          onServed: (r) => served[i]!.push(r),
        }),
      ),
    );
    const file = join(mkdtempSync(join(tmpdir(), 'promptq-affinity-')), 'accounts.json');
    writeFileSync(
      file,
      JSON.stringify({
        accounts: [
          { name: 'a', provider: 'anthropic', api_key_env: 'PQ_AFF_KEY_A', base_url: sims[0]!.url },
          { name: 'b', provider: 'anthropic', api_key_env: 'PQ_AFF_KEY_B', base_url: sims[1]!.url },
        ],
      }),
    );
    redis = testRedis();
    const queue = uniqueQueue();
    const env = {
      ...redisEnv(),
      PQ_AFF_KEY_A: keyA,
      PQ_AFF_KEY_B: keyB,
      PROMPTQ_ACCOUNTS: file,
      PROMPTQ_QUEUE: queue,
      PORT: '0',
      PROMPTQ_CONCURRENCY: '8',
    };
    workers = [spawnCli(['worker'], env), spawnCli(['worker'], env)];
    await Promise.all(workers.map((w) => w.waitForLog((l) => l.msg === 'promptq running', 60_000)));
    const q = new PromptQueue({ connection: redis, queue, accountsFile: file, ...testSettings() });
    // Each account's limits first (its discovery call goes alone, which would order the next calls
    // whatever the feature).
    const warm = await q.addBatch(
      ['a', 'b'].map((account) => ({ model: 'claude-sonnet-4-5', max_tokens: 4, prompt: 'warm', account })),
    );
    await Promise.all(warm.ids.map((id) => q.wait(id, 60_000)));
    const runId = randomUUID().slice(0, 8);
    const seed = Number.parseInt(runId.slice(0, 6), 16);
    const { ids } = await q.addBatch(shuffled(jobsOf(runId, pin), seed));
    const views = await Promise.all(ids.map((id) => q.wait(id, 120_000)));
    await q.close();
    expect(views.every((v) => v?.state === 'completed')).toBe(true);
    const perWorker = workers.map(
      (w) => w.logs().filter((l) => l.msg === 'api_attempt' && l.outcome === 'success').length,
    );
    const byAccount = served.map(writesByPrefix);
    const all = new Map<number, number>();
    for (const m of byAccount) for (const [w, n] of m) all.set(w, (all.get(w) ?? 0) + n);
    const result = { seed, perWorker, writesA: byAccount[0]!.size, writesB: byAccount[1]!.size };
    console.log(
      `affinity ${pin ? 'control' : 'on'}: ${JSON.stringify({ ...result, all: [...all.values()] })}`,
    );
    return { all, byAccount, perWorker, runId, queue };
  }

  it('each prefix is written once in all, on one account, though both processes serve it', async () => {
    const { all, byAccount, perWorker, runId, queue } = await run();
    // Both processes served jobs, and the prefixes were spread over both accounts.
    expect(perWorker.every((n) => n > 0)).toBe(true);
    expect(byAccount.every((m) => m.size > 0)).toBe(true);
    // Every prefix was written (the lengths tell them apart), each exactly once over both accounts.
    expect(all.size).toBe(prefixes);
    expect([...all.values()]).toEqual(Array.from({ length: prefixes }, () => 1));
    // The pins in Redis: one per prefix, named by its digest, holding an account's name; no key
    // anywhere in Redis.
    const dump = await dumpRedis(redis!);
    const keys = testKeys(queue);
    const pins = jobsOf(runId)
      .slice(0, prefixes)
      .map((j) => {
        const { request } = validateJob(j);
        // (The dump shows each value as JSON.)
        return dump.get(keys.prefixAffinity(`${request.model}:${cachePrefixKey(request)}`));
      });
    expect(pins.every((v) => v === '"a"' || v === '"b"')).toBe(true);
    expect(new Set(pins).size).toBe(2);
    for (const [k, v] of dump) {
      expect(k).not.toContain('sk-ant-affinity');
      expect(v).not.toContain('sk-ant-affinity');
    }
  });

  it('control: the same jobs naming a and b alternately pay a write on each account', async () => {
    const { all, byAccount } = await run((i) => (Math.floor(i / prefixes) % 2 === 0 ? 'a' : 'b'));
    expect(byAccount.map((m) => m.size)).toEqual([prefixes, prefixes]);
    expect([...all.values()]).toEqual(Array.from({ length: prefixes }, () => 2));
  });
});
