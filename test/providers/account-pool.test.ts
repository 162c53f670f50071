/**
 * Several accounts serving one queue (an accounts file of two Anthropic accounts, each its own
 * simulator): a job's `account` pins it, jobs without one are spread over both, a shared cacheable
 * prefix stays on one account (one cache write, by the simulators' own counters; the control
 * pins the same jobs alternately and pays two), and a job moves off an overloaded account only
 * when it opted in with `account_fallback`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';

const keyA = 'sk-ant-pool-a-0123456789';
const keyB = 'sk-ant-pool-b-9876543210';

describe('an account pool', () => {
  let s: Stack | undefined;
  let b: Simulator | undefined;
  beforeAll(() => {
    // The accounts file names these variables; the process holds them.
    process.env.PQ_POOL_KEY_A = keyA;
    process.env.PQ_POOL_KEY_B = keyB;
  });
  afterEach(async () => {
    await s?.close();
    await b?.close();
    s = b = undefined;
  });

  /** A stack whose accounts are `a` (the stack's simulator) and `b` (a second simulator). */
  async function pool(sim: SimulatorOptions = {}, env: Record<string, string> = {}): Promise<void> {
    b = await startSimulator({ apiKey: keyB, seed: 9, ...sim });
    const dir = mkdtempSync(join(tmpdir(), 'promptq-pool-'));
    const file = join(dir, 'accounts.json');
    // The stack's simulator URL is known only once it started: the file is written after it, read at worker start.
    s = await startStack({
      sim: { apiKey: keyA, seed: 7, ...sim },
      env: { PROMPTQ_ACCOUNTS: file, ...env },
      parts: { worker: false },
    });
    writeFileSync(
      file,
      JSON.stringify({
        accounts: [
          { name: 'a', provider: 'anthropic', api_key_env: 'PQ_POOL_KEY_A', base_url: s.sim.url },
          { name: 'b', provider: 'anthropic', api_key_env: 'PQ_POOL_KEY_B', base_url: b.url },
        ],
      }),
    );
    const { startWorker } = await import('../../src/ops/start-worker.js');
    const running = await startWorker({ ...s.config, connection: undefined });
    const close = s.close;
    s.close = async () => {
      await running.close();
      await close();
    };
  }

  async function run(jobs: Array<Record<string, unknown>>): Promise<Array<Record<string, any>>> {
    const r = await post(`${s!.url}/v1/jobs/batch`, { jobs });
    expect(r.status).toBe(202);
    return Promise.all(
      (r.body.ids as string[]).map(async (id) => (await get(`${s!.url}/v1/jobs/${id}?wait=60`)).body),
    );
  }

  it('`account` pins a job; without it both accounts serve', async () => {
    await pool();
    const pinned = await run(
      Array.from({ length: 6 }, (_, i) => ({
        model: 'claude-haiku-4-5',
        max_tokens: 16,
        prompt: `p${i}`,
        account: 'b',
      })),
    );
    expect(
      pinned.every(
        (v) => v.state === 'completed' && v.record.account === 'b' && v.record.provider === 'anthropic',
      ),
    ).toBe(true);
    expect(s!.sim.stats().requests).toBe(0);
    expect(b!.stats().succeeded).toBe(6);
    const free = await run(
      Array.from({ length: 12 }, (_, i) => ({ model: 'claude-haiku-4-5', max_tokens: 16, prompt: `f${i}` })),
    );
    expect(free.every((v) => v.state === 'completed')).toBe(true);
    expect(s!.sim.stats().succeeded).toBeGreaterThan(0);
    expect(b!.stats().succeeded).toBeGreaterThan(6);
    expect(s!.sim.stats().succeeded + b!.stats().succeeded).toBe(18);
  }, 60_000);

  const system = [
    { type: 'text', text: 'Shared instructions. '.repeat(900), cache_control: { type: 'ephemeral' } },
  ];
  const prefixJobs = (pin?: (i: number) => string) =>
    Array.from({ length: 10 }, (_, i) => ({
      model: 'claude-sonnet-4-5',
      max_tokens: 16,
      system,
      prompt: `question ${i}`,
      ...(pin ? { account: pin(i) } : {}),
    }));

  it('a shared cacheable prefix stays on one account: one cache write, not one per account', async () => {
    await pool({}, { PROMPTQ_CONCURRENCY: '6' });
    const views = await run(prefixJobs());
    expect(views.every((v) => v.state === 'completed')).toBe(true);
    const writes = [s!.sim.stats().cacheCreationInputTokens, b!.stats().cacheCreationInputTokens];
    console.log(`shared prefix over two accounts: cache-write tokens per account ${writes.join(' / ')}`);
    expect(writes.filter((w) => w > 0)).toHaveLength(1);
    expect(new Set(views.map((v) => v.record.account)).size).toBe(1);
  }, 60_000);

  it('control: the same jobs pinned alternately to a and b pay the write on each', async () => {
    await pool({}, { PROMPTQ_CONCURRENCY: '6' });
    await run(prefixJobs((i) => (i % 2 === 0 ? 'a' : 'b')));
    const writes = [s!.sim.stats().cacheCreationInputTokens, b!.stats().cacheCreationInputTokens];
    expect(writes.filter((w) => w > 0)).toHaveLength(2);
  }, 60_000);

  it('on 529, a job with account_fallback moves to the other account; without it, it stays', async () => {
    await pool({}, { PROMPTQ_MAX_ATTEMPTS: '3' });
    // Account a answers 529 to everything in this test.
    s!.sim.script(Array.from({ length: 40 }, () => ({ status: 529 as const })));
    const job = (i: number, fallback: boolean) => ({
      model: 'claude-haiku-4-5',
      max_tokens: 16,
      prompt: `j${i}`,
      account: ['a', 'b'],
      ...(fallback ? { account_fallback: true } : {}),
    });
    // One at a time: the accounts are asked in turn, so about half of the jobs meet a first.
    const moved: Array<Record<string, any>> = [];
    for (let i = 0; i < 4; i++) moved.push(...(await run([job(i, true)])));
    const metA = s!.sim.stats().overloaded;
    expect(metA).toBeGreaterThan(0);
    for (const v of moved) expect([v.state, v.record.account]).toEqual(['completed', 'b']);

    const stayed: Array<Record<string, any>> = [];
    for (let i = 0; i < 4; i++) stayed.push(...(await run([job(i + 4, false)])));
    const failed = stayed.filter((v) => v.state === 'failed');
    // Those that met a stayed on a for all three attempts; the others b served at once.
    expect(failed.length).toBeGreaterThan(0);
    for (const v of failed) expect([v.record.account, v.record.attempts]).toEqual(['a', 3]);
    expect(s!.sim.stats().overloaded - metA).toBe(3 * failed.length);
    for (const v of stayed.filter((x) => x.state === 'completed'))
      expect([v.record.account, v.record.attempts]).toEqual(['b', 1]);
  }, 60_000);
});
