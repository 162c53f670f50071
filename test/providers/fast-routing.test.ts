/**
 * A `speed: "fast"` job is routed only to accounts with fast mode: a Bedrock account (listed first,
 * mapping the model) serves the standard jobs it is given but none of the fast ones, which go to
 * the Anthropic account; the Bedrock simulator's own counters show it was sent no fast call. A
 * fast job allowed only the Bedrock account fails `unserved_model`, saying fast mode is why.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';

const keyA = 'sk-ant-fast-route-a-0123456789';
const awsKeyId = 'AKIAFASTROUTE0000001';
const model = 'claude-opus-5-5';
const saved = { ...process.env };

describe('fast jobs and accounts without fast mode', () => {
  let s: Stack | undefined;
  let aws: Simulator | undefined;
  afterAll(async () => {
    await s?.close();
    await aws?.close();
    for (const k of ['PQ_FAST_KEY_A', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('fast jobs all go to the anthropic account; standard jobs pinned to bedrock are served there', async () => {
    process.env.PQ_FAST_KEY_A = keyA;
    process.env.AWS_ACCESS_KEY_ID = awsKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = 'fast-route-secret-0123456789';
    aws = await startSimulator({ apiKey: awsKeyId, seed: 12 });
    const file = join(mkdtempSync(join(tmpdir(), 'promptq-fast-route-')), 'accounts.json');
    s = await startStack({
      sim: { apiKey: keyA, seed: 11 },
      env: { PROMPTQ_ACCOUNTS: file },
      parts: { worker: false },
    });
    writeFileSync(
      file,
      JSON.stringify({
        accounts: [
          {
            name: 'aws',
            provider: 'bedrock',
            region: 'us-east-1',
            base_url: aws.url,
            model_ids: { [model]: 'anthropic.claude-opus-5-5-v1' },
          },
          { name: 'a', provider: 'anthropic', api_key_env: 'PQ_FAST_KEY_A', base_url: s.sim.url },
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
    const jobs = [
      ...Array.from({ length: 6 }, (_, i) => ({ model, max_tokens: 16, prompt: `fast ${i}`, speed: 'fast' })),
      ...Array.from({ length: 3 }, (_, i) => ({
        model,
        max_tokens: 16,
        prompt: `standard ${i}`,
        account: 'aws',
      })),
      // Fast, and allowed only the Bedrock account: no account may serve it, and it says why.
      { model, max_tokens: 16, prompt: 'fast pinned', speed: 'fast', account: 'aws' },
    ];
    const r = await post(`${s.url}/v1/jobs/batch`, { jobs });
    expect(r.status).toBe(202);
    const views = await Promise.all(
      (r.body.ids as string[]).map(async (id) => (await get(`${s!.url}/v1/jobs/${id}?wait=60`)).body),
    );
    const pinned = views.pop()!;
    for (const v of views) expect(v.state).toBe('completed');
    expect(pinned.state).toBe('failed');
    expect(pinned.record.error_type).toBe('unserved_model');
    expect(pinned.record.attempts).toBe(1);
    expect(pinned.error.message).toMatch(/aws \(speed "fast": none of them has fast mode/);
    const fast = views.filter((v) => v.request.speed === 'fast');
    expect(fast.map((v) => `${v.record.provider}/${v.record.account}/${v.record.speed}`)).toEqual(
      Array(6).fill('anthropic/a/fast'),
    );
    const standard = views.filter((v) => v.request.speed === undefined);
    expect(standard.map((v) => `${v.record.provider}/${v.record.account}`)).toEqual(
      Array(3).fill('bedrock/aws'),
    );
    // What each simulator was sent: Bedrock the three standard calls only, the API the six fast ones.
    expect(aws.stats().groups['opus-fast']).toBeUndefined();
    expect(aws.stats().groups.opus?.succeeded).toBe(3);
    expect(s.sim.stats().groups['opus-fast']?.succeeded).toBe(6);
  }, 90_000);
});
