/**
 * A newcomer's smaller findings (issue 25.9), each through the real CLI: messages in promptq's
 * words, not a library's, and a Ctrl-C on `backfill` that says how to resume.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { environmentVariables } from '../../src/core/env.js';
import { until } from '../chaos/helpers.js';
import { spawnCli } from '../helpers/cli.js';
import { uniqueQueue } from '../helpers/stack.js';
import { bullQueue, redisEnv, testRedis } from '../helpers/topology.js';

/** A port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 1));
    });
  });
}

describe('the CLI speaks promptq, not its libraries', () => {
  const dir = mkdtempSync(join(tmpdir(), 'promptq-firstday-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('`--model ""` names the field in plain words, not zod’s', async () => {
    const cli = spawnCli(['enqueue', '--model', '', 'hi'], { ...redisEnv(), PROMPTQ_QUEUE: uniqueQueue() });
    expect(await cli.exited).toBe(2);
    expect(cli.stderr()).toBe(
      'promptq: invalid job: model: must not be empty: a model name, e.g. claude-haiku-4-5\n',
    );
  });

  it('`report` against a Redis that does not answer says so, not ioredis’ maxRetriesPerRequest', async () => {
    const cli = spawnCli(['report'], { REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    expect(await cli.exited).toBe(2);
    expect(cli.stderr()).toMatch(
      /^promptq: REDIS_URL: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: no answer \(set REDIS_URL to the queue's Redis\)\n$/,
    );
  }, 30_000);

  it('`batches show` of an unknown batch without a key: one plain line (no JSON notice before it), exit 1 as for a tenant', async () => {
    const queue = uniqueQueue();
    const cli = spawnCli(['batches', 'show', 'msgbatch_nope'], { ...redisEnv(), PROMPTQ_QUEUE: queue });
    expect(await cli.exited).toBe(1);
    expect(cli.stderr()).toBe(
      `promptq: no batch msgbatch_nope was submitted by promptq for queue "${queue}"\n`,
    );
  });

  it('`start`, `worker` and `api --help` name the environment variables they read', async () => {
    const runs = ['start', 'worker', 'api'].map((c) => ({ c, p: spawnCli([c, '--help'], {}) }));
    for (const { c, p } of runs) {
      expect(await p.exited, c).toBe(0);
      const out = p.stdout();
      expect(out, c).toMatch(/^Environment \(every variable: docs\/reference\/environment\.md\):$/m);
      expect(out, c).toMatch(/^ {2}REDIS_URL {2,}the queue's Redis/m);
      for (const v of environmentVariables)
        expect(out, `${c}: ${v.name}`).toMatch(new RegExp(`\\b${v.name}\\b`));
    }
  });

  it('Ctrl-C on `backfill` says to run it again to resume, and the rerun adds nothing twice', async () => {
    const n = 5;
    const path = join(dir, 'jobs.jsonl');
    writeFileSync(
      path,
      `${Array.from({ length: n }, (_, i) => JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 10, prompt: `p${i}` })).join('\n')}\n`,
    );
    const env = { ...redisEnv(), PROMPTQ_QUEUE: uniqueQueue() };
    const redis = testRedis();
    const bull = bullQueue(env.PROMPTQ_QUEUE, redis);
    try {
      // --wait with no worker running: it waits until interrupted.
      const run = spawnCli(['backfill', path, '--wait'], env);
      await until(async () => (await bull.count()) === n, 'the jobs to be enqueued', 20_000);
      run.proc.kill('SIGINT');
      expect(await run.exited).toBe(130);
      expect(run.stderr()).toContain(
        `promptq: interrupted (SIGINT); what was enqueued or submitted stays: run the same command again (promptq backfill ${path} …) to resume\n`,
      );
      const again = spawnCli(['backfill', path, '--json'], env);
      expect(await again.exited, again.stderr()).toBe(0);
      expect(JSON.parse(again.stdout()).enqueued).toMatchObject({ added: 0, already_there: n });
    } finally {
      await bull.obliterate({ force: true });
      await bull.close();
      redis.disconnect();
    }
  }, 60_000);
});
