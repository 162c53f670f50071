/**
 * `PROMPTQ_MODELS` (anthropic/model-policy.ts): with `known` (or a list) a model the price list does
 * not name is refused at enqueue — HTTP, CLI, library, each backfill line — with a 400 naming the
 * field and saying how to allow it; known models, their aliases and dated snapshots are accepted;
 * the default (`any`) accepts every model, as before.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { ValidationError } from '../../src/core/job.js';
import { modelGroup } from '../../src/core/models.js';
import { PromptQueue } from '../../src/producer/queue.js';
import { modelPolicyOf } from '../../src/providers/anthropic/model-policy.js';
import type { RedisConnection } from '../../src/store/connection.js';
import { spawnCli } from '../helpers/cli.js';
import { post, type Stack, startStack, uniqueQueue } from '../helpers/stack.js';
import { bullQueue, redisEnv, testRedis, testSettings } from '../helpers/topology.js';

const job = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  max_tokens: 20,
  prompt: 'hi',
  ...extra,
});
const policy = (value: string | undefined) =>
  modelPolicyOf(loadConfig(value === undefined ? {} : { PROMPTQ_MODELS: value }));

describe('PROMPTQ_MODELS: the setting', () => {
  it('any (the default) accepts every name; known accepts the price list, its aliases and dated snapshots only', () => {
    for (const p of [policy(undefined), policy('any')]) {
      expect(p.allows('claude-haiku-4-5')).toBe(true);
      expect(p.allows('claude-made-up-9')).toBe(true);
    }
    const known = policy('known');
    for (const m of [
      'claude-haiku-4-5',
      'claude-sonnet-4-5-20250929',
      'claude-3-7-sonnet-latest',
      'claude-opus-4',
      'claude-haiku-4-5-20251001',
    ])
      expect(known.allows(m), m).toBe(true);
    for (const m of ['claude-made-up-9', 'claude-haiku-4-5-x', 'gpt-4o', 'claude-haiku'])
      expect(known.allows(m), m).toBe(false);
  });

  it('a list: its names and their dated snapshots, plus the price list when it says known', () => {
    const listed = policy('my-model, claude-haiku-4-5');
    expect(listed.allows('my-model')).toBe(true);
    expect(listed.allows('my-model-20250101')).toBe(true);
    expect(listed.allows('my-model-2')).toBe(false);
    // Without `known` the price list is not consulted.
    expect(listed.allows('claude-sonnet-4-5')).toBe(false);
    const both = policy('known,my-model');
    expect(both.allows('claude-sonnet-4-5')).toBe(true);
    expect(both.allows('my-model')).toBe(true);
    expect(both.allows('claude-made-up-9')).toBe(false);
  });

  it('a bad value stops the process naming PROMPTQ_MODELS', () => {
    for (const bad of ['any,known', ',', 'bad name', 'known,\u001b[2J'])
      expect(() => loadConfig({ PROMPTQ_MODELS: bad }), bad).toThrow(/PROMPTQ_MODELS/);
  });

  it('a PROMPTQ_PRICING_FILE model is known', () => {
    const dir = mkdtempSync(join(tmpdir(), 'promptq-models-'));
    try {
      const file = join(dir, 'prices.json');
      writeFileSync(file, JSON.stringify({ 'acme-llm': { input: 1, output: 2 } }));
      const p = modelPolicyOf(loadConfig({ PROMPTQ_MODELS: 'known', PROMPTQ_PRICING_FILE: file }));
      expect(p.allows('acme-llm-large')).toBe(true);
      expect(policy('known').allows('acme-llm-large')).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('unknown models still share one limiter group, whatever the setting', () => {
    expect(modelGroup('claude-made-up-9')).toBe(modelGroup('another-made-up'));
  });
});

describe('PROMPTQ_MODELS at every entrance', () => {
  let redis: RedisConnection;
  let dir: string;
  let s: Stack | undefined;
  beforeAll(() => {
    redis = testRedis();
    dir = mkdtempSync(join(tmpdir(), 'promptq-models-'));
  });
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });
  afterAll(() => {
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('HTTP: an unknown model is a 400 naming the field and how to allow it; known ones and the default accept', async () => {
    s = await startStack({ env: { PROMPTQ_MODELS: 'known' }, parts: { worker: false } });
    const refused = await post(`${s.url}/v1/jobs`, job('claude-made-up-9'));
    expect(refused.status).toBe(400);
    expect(refused.body.error?.type).toBe('invalid_request');
    expect(refused.body.error?.message).toMatch(/^model: unknown model "claude-made-up-9"/);
    expect(refused.body.error?.message).toMatch(/PROMPTQ_MODELS/);
    const fallback = await post(`${s.url}/v1/jobs`, job('claude-haiku-4-5', { fallback_models: ['nope-1'] }));
    expect(fallback.status).toBe(400);
    expect(fallback.body.error?.message).toMatch(/^fallback_models\.0: unknown model "nope-1"/);
    const batch = await post(`${s.url}/v1/jobs/batch`, {
      jobs: [job('claude-haiku-4-5'), job('claude-made-up-9')],
    });
    expect(batch.status).toBe(400);
    expect(batch.body.error?.message).toMatch(/^jobs\.1\.model: unknown model/);
    for (const m of ['claude-haiku-4-5', 'claude-sonnet-4-5-20250929', 'claude-3-5-haiku-latest'])
      expect((await post(`${s.url}/v1/jobs`, job(m))).status, m).toBe(202);
    // Nothing refused was enqueued.
    expect(await s.bull.count()).toBe(3);
    await s.close();

    s = await startStack({ parts: { worker: false } });
    expect((await post(`${s.url}/v1/jobs`, job('claude-made-up-9'))).status).toBe(202);
  });

  it('library: PromptQueue with a policy throws a ValidationError naming the field; without one it accepts', async () => {
    const queue = uniqueQueue();
    const strict = new PromptQueue({
      connection: redis,
      queue,
      ...testSettings(),
      jobs: { models: { kind: 'listed', known: true, names: [] } },
    });
    const open = new PromptQueue({ connection: redis, queue, ...testSettings() });
    try {
      const err = await strict.add(job('claude-made-up-9')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe('model');
      expect((await strict.add(job('claude-opus-4-1-20250805'))).created).toBe(true);
      expect((await open.add(job('claude-made-up-9'))).created).toBe(true);
    } finally {
      await strict.close();
      await open.close();
    }
  });

  it('CLI enqueue and backfill refuse an unknown model (each backfill line named); the default accepts it', async () => {
    const queue = uniqueQueue();
    const env = { ...redisEnv(), PROMPTQ_QUEUE: queue, PROMPTQ_MODELS: 'known' };
    const cli = spawnCli(['enqueue', '--model', 'claude-made-up-9', 'hello'], env);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr()).toMatch(/model: unknown model "claude-made-up-9".*PROMPTQ_MODELS/);
    const ok = spawnCli(['enqueue', '--model', 'claude-haiku-4-5', 'hello'], env);
    expect(await ok.exited).toBe(0);

    const path = join(dir, 'models.jsonl');
    writeFileSync(
      path,
      `${[
        JSON.stringify(job('claude-haiku-4-5')),
        JSON.stringify(job('claude-made-up-9')),
        JSON.stringify({ custom_id: 'c3', params: job('nope-2') }),
      ].join('\n')}\n`,
    );
    const bf = spawnCli(['backfill', path], env);
    expect(await bf.exited).toBe(2);
    expect(bf.stderr()).toMatch(/^line 2: model: unknown model "claude-made-up-9"/m);
    expect(bf.stderr()).toMatch(/^line 3: params\.model: unknown model "nope-2"/m);
    expect(bf.stderr()).not.toMatch(/^line 1:/m);
    const q = bullQueue(queue, redis);
    try {
      // The enqueue that was accepted; no backfill line.
      expect(await q.count()).toBe(1);
      const open = spawnCli(['backfill', path], { ...env, PROMPTQ_MODELS: 'any' });
      expect(await open.exited).toBe(0);
      expect(await q.count()).toBe(4);
    } finally {
      await q.close();
    }
  });
});
