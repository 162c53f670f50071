/**
 * Resumable batches by default (issue 25.3). Without an API key `promptq backfill --via batches`
 * runs against the built-in simulator, which keeps its batches in `.promptq/simulator/` (private):
 * a killed run's batches are still there for the next run, which resumes them. A batch the API no
 * longer knows (here: its simulator state removed, as a batch expired, deleted or made with another
 * key) is said in one line, and its requests are sent again as `--batch-retry` says; no stack trace.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchRunSummary } from '../../src/producer/backfill/batch-types.js';
import { spawnCli } from '../helpers/cli.js';
import { uniqueQueue } from '../helpers/stack.js';
import { bullQueue, redisEnv, testRedis } from '../helpers/topology.js';

const n = 12;
const lines = Array.from({ length: n }, (_, i) =>
  JSON.stringify({
    custom_id: `q-${i}`,
    params: {
      model: 'claude-haiku-4-5',
      max_tokens: 20,
      messages: [{ role: 'user', content: `question ${i}` }],
    },
  }),
);
const stack = /\n\s+at [^\n]+\(?[^\n]*:\d+:\d+\)?/;

describe('backfill --via batches without an API key (the built-in simulator)', () => {
  let cwd: string;
  let path: string;
  let env: Record<string, string>;
  beforeEach(() => {
    cwd = mkdtempSync(join(tmpdir(), 'promptq-bdefault-'));
    path = join(cwd, 'in.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    // No ANTHROPIC_API_KEY: the default mode of a new user.
    env = { ...redisEnv(), PROMPTQ_QUEUE: uniqueQueue() };
  });
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  /** A run killed once its batch is submitted: the batch is left in the simulator's state. */
  async function killedAfterSubmit(): Promise<string> {
    const first = spawnCli(['backfill', path, '--via', 'batches', '--json'], env, { cwd });
    const submitted = await first.waitForLog((l) => l.msg === 'message batch submitted', 30_000);
    first.proc.kill('SIGKILL');
    await first.exited;
    return String(submitted.batch_id);
  }

  it('a killed run is resumed by the next one: its batch outlived the CLI (kept private)', async () => {
    await killedAfterSubmit();
    const again = spawnCli(['backfill', path, '--via', 'batches', '--json'], env, { cwd });
    expect(await again.exited, again.stderr()).toBe(0);
    expect(again.stderr()).not.toMatch(stack);
    const { batches } = JSON.parse(again.stdout()) as { batches: BatchRunSummary };
    expect(batches).toMatchObject({ resumed: n, submitted: 0, succeeded: n, retried_live: 0 });
    // Where the batches were kept: private to the user.
    expect(statSync(join(cwd, '.promptq/simulator/batches.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(cwd, '.promptq/simulator')).mode & 0o777).toBe(0o700);
  }, 90_000);

  it('a batch the API no longer knows: one line, its requests sent again live; `batches cancel` says so too', async () => {
    const id = await killedAfterSubmit();
    // The batch is gone from the API, as an expired or deleted one, or one made with another key.
    rmSync(join(cwd, '.promptq/simulator'), { recursive: true, force: true });
    const again = spawnCli(['backfill', path, '--via', 'batches', '--json'], env, { cwd });
    expect(await again.exited, again.stderr()).toBe(0);
    const err = again.stderr();
    expect(err).not.toMatch(stack);
    const said = err.split('\n').filter((l) => l.includes('no longer known to the API'));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(`message batch ${id} is no longer known to the API`);
    expect(said[0]).toContain(`its ${n} requests are sent again through the live queue (--batch-retry live)`);
    const { batches } = JSON.parse(again.stdout()) as { batches: BatchRunSummary };
    expect(batches).toMatchObject({ resumed: n, submitted: 0, retried_live: n });
    const redis = testRedis();
    const bull = bullQueue(env.PROMPTQ_QUEUE as string, redis);
    try {
      expect(await bull.count()).toBe(n);
    } finally {
      await bull.close();
      redis.disconnect();
    }

    const cancel = spawnCli(['batches', 'cancel', id], env, { cwd });
    expect(await cancel.exited).toBe(1);
    const lastLine = cancel.stderr().trim().split('\n').at(-1);
    expect(lastLine).toMatch(
      new RegExp(`^promptq: batch ${id} is no longer known to the API .*: nothing to cancel$`),
    );
    expect(cancel.stderr()).not.toMatch(stack);
  }, 90_000);
});
