/**
 * `promptq backfill --via batches` and `promptq batches` use the accounts file when
 * `PROMPTQ_ACCOUNTS` is set: its first `anthropic` account (only the Anthropic API has Message
 * Batches), here a simulator, with no `ANTHROPIC_API_KEY` in the environment. The simulator's own
 * batch list (read with the official SDK) holds the batch. A file with no `anthropic` account is a
 * clear exit 2.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { spawnCli } from '../helpers/cli.js';
import { uniqueQueue } from '../helpers/stack.js';

const key = `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
const dir = mkdtempSync(join(tmpdir(), 'promptq-batch-accounts-'));

describe('Message Batches through the accounts file', () => {
  let sim: Simulator | undefined;
  afterAll(async () => {
    await sim?.close();
  });

  it('backfill --via batches and batches list go to the anthropic account of the file', async () => {
    sim = await startSimulator({ apiKey: key, seed: 31, batches: { processingSeconds: 60 } });
    const accounts = join(dir, 'accounts.yaml');
    writeFileSync(
      accounts,
      `accounts:
  - name: aws
    provider: bedrock
    region: us-east-1
    base_url: ${sim.url}
  - name: main
    provider: anthropic
    api_key_env: PQ_BATCH_KEY
    base_url: ${sim.url}
`,
    );
    const lines = [1, 2, 3].map((i) =>
      JSON.stringify({
        custom_id: `r-${i}`,
        params: {
          model: 'claude-haiku-4-5',
          max_tokens: 20,
          messages: [{ role: 'user', content: `q ${i}` }],
        },
      }),
    );
    const path = join(dir, 'in.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const env = {
      REDIS_URL: inject('redisUrl'),
      PROMPTQ_QUEUE: uniqueQueue(),
      PROMPTQ_ACCOUNTS: accounts,
      PQ_BATCH_KEY: key,
    };
    const run = spawnCli(['backfill', path, '--via', 'batches', '--out', join(dir, 'out.jsonl')], env);
    const submitted = await run.waitForLog((l) => l.msg === 'message batch submitted', 30_000);
    run.proc.kill('SIGTERM');
    await run.exited;
    // The simulator of the account holds the batch (its own list, through the official SDK).
    const client = new Anthropic({ apiKey: key, baseURL: sim.url });
    const held = [];
    for await (const b of client.messages.batches.list()) held.push(b.id);
    expect(held).toEqual([submitted.batch_id]);

    const list = spawnCli(['batches', 'list', '--json'], env);
    expect(await list.exited, list.stderr()).toBe(0);
    const listed = list
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; requests: number });
    expect(listed).toEqual([expect.objectContaining({ id: submitted.batch_id, requests: 3 })]);
  }, 60_000);

  it('an accounts file with no anthropic account: exit 2 saying so', async () => {
    const accounts = join(dir, 'bedrock-only.json');
    writeFileSync(
      accounts,
      JSON.stringify({ accounts: [{ name: 'aws', provider: 'bedrock', region: 'us-east-1' }] }),
    );
    const env = { REDIS_URL: inject('redisUrl'), PROMPTQ_QUEUE: uniqueQueue(), PROMPTQ_ACCOUNTS: accounts };
    const list = spawnCli(['batches', 'list'], env);
    expect(await list.exited).toBe(2);
    expect(list.stderr()).toContain('Message Batches needs an anthropic account');
    expect(list.stderr()).toContain('aws (bedrock)');
  }, 30_000);
});
