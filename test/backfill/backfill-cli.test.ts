import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisConnection } from '../../src/store/connection.js';
import { bullJobId } from '../../src/store/keys.js';
import { spawnCli } from '../helpers/cli.js';
import { startStack, uniqueQueue } from '../helpers/stack.js';
import { bullQueue, redisEnv, testRedis } from '../helpers/topology.js';

const model = 'claude-haiku-4-5';
const body = (prompt: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model, max_tokens: 20, prompt, ...extra });
const batchLine = (id: string, content: string) =>
  JSON.stringify({ custom_id: id, params: { model, max_tokens: 20, messages: [{ role: 'user', content }] } });

describe('promptq backfill (real processes, real Redis)', () => {
  let dir: string;
  let redis: RedisConnection;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'promptq-backfill-'));
    redis = testRedis();
  });
  afterAll(() => {
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  const file = (name: string, lines: string[]) => {
    const path = join(dir, name);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  };
  const env = (queue: string) => ({ ...redisEnv(), PROMPTQ_QUEUE: queue });
  const jobCount = async (queue: string) => {
    const q = bullQueue(queue, redis);
    try {
      return await q.count();
    } finally {
      await q.close();
    }
  };

  it('reports every bad line with its number and enqueues nothing; --skip-invalid enqueues the rest', async () => {
    const queue = uniqueQueue();
    const path = file('bad.jsonl', [
      body('one'),
      batchLine('b-2', 'two'),
      '',
      body('three', { max_tokens: 0 }),
      '{not json',
      batchLine('b-2', 'a second b-2'),
      JSON.stringify({ custom_id: 'c', params: { model, max_tokens: 5, prompt: 'x', tool_choice: 'any' } }),
    ]);
    const run = spawnCli(['backfill', path], env(queue));
    expect(await run.exited).toBe(2);
    const err = run.stderr();
    expect(err).toMatch(/^line 4: max_tokens: /m);
    expect(err).toMatch(/^line 5: line: not valid JSON/m);
    expect(err).toMatch(/^line 6: custom_id: duplicate of line 2/m);
    expect(err).toMatch(/^line 7: params\.tool_choice: /m);
    expect(err).not.toMatch(/^line [123]:/m);
    expect(err).toMatch(/promptq: 4 of 6 lines are invalid .* nothing was enqueued/);
    expect(await jobCount(queue)).toBe(0);

    const skip = spawnCli(['backfill', '--skip-invalid', '--json', path], env(queue));
    expect(await skip.exited).toBe(0);
    expect(JSON.parse(skip.stdout()).enqueued).toMatchObject({ jobs: 2, added: 2, invalid_skipped: 4 });
    expect(await jobCount(queue)).toBe(2);
  });

  it('usage errors exit 2 with one line', async () => {
    const missing = spawnCli(['backfill', join(dir, 'nope.jsonl')], env(uniqueQueue()));
    expect(await missing.exited).toBe(2);
    expect(missing.stderr()).toMatch(/promptq: cannot read .*nope\.jsonl: ENOENT/);
    const badPrio = spawnCli(['backfill', '--priority', '0', 'x'], env(uniqueQueue()));
    expect(await badPrio.exited).toBe(2);
    expect(badPrio.stderr()).toMatch(/--priority: must be between 1 and 1000/);
  });

  it('a re-run adds nothing; Batches lines keep their custom_id as job id; the default priority is low', async () => {
    const queue = uniqueQueue();
    const lines = Array.from({ length: 50 }, (_, i) =>
      i % 2 ? batchLine(`req-${i}`, `p${i}`) : body(`p${i}`),
    );
    const path = file('rerun.jsonl', lines);
    const first = spawnCli(['backfill', '--json', '--chunk', '7', path], env(queue));
    expect(await first.exited).toBe(0);
    expect(JSON.parse(first.stdout()).enqueued).toMatchObject({ jobs: 50, added: 50, already_there: 0 });
    const again = spawnCli(['backfill', '--json', path], env(queue));
    expect(await again.exited).toBe(0);
    expect(JSON.parse(again.stdout()).enqueued).toMatchObject({ jobs: 50, added: 0, already_there: 50 });
    expect(await jobCount(queue)).toBe(50);

    const q = bullQueue(queue, redis);
    const job = await q.getJob(bullJobId('req-1'));
    expect(job?.data).toEqual({ model, max_tokens: 20, messages: [{ role: 'user', content: 'p1' }] });
    // BullMQ's priority is user priority × 2048 + the tenant's rank (src/fairness.ts).
    expect(Math.floor(job!.opts.priority! / 2048)).toBe(500);
    await q.close();
  });

  it('a run killed mid-enqueue is completed by running it again, with no job twice', async () => {
    const queue = uniqueQueue();
    const total = 20_000;
    const path = file(
      'big.jsonl',
      Array.from({ length: total }, (_, i) => body(`prompt number ${i}`)),
    );
    const run = spawnCli(['backfill', '--chunk', '100', path], env(queue));
    // Kill it once some chunks are in but (on any plausible machine) far from all of them.
    const deadline = Date.now() + 20_000;
    while ((await jobCount(queue)) < 500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    run.proc.kill('SIGKILL');
    await run.exited;
    const before = await jobCount(queue);
    expect(before).toBeGreaterThanOrEqual(500);
    expect(before).toBeLessThan(total);

    const resume = spawnCli(['backfill', '--json', path], env(queue));
    expect(await resume.exited).toBe(0);
    const enq = JSON.parse(resume.stdout()).enqueued;
    expect(enq.added).toBe(total - before);
    expect(enq.already_there).toBe(before);
    expect(await jobCount(queue)).toBe(total);
  });

  it('stdin (-) gives the same job ids as the file', async () => {
    const queue = uniqueQueue();
    const lines = [body('a'), body('b'), body('c')];
    const path = file('stdin.jsonl', lines);
    const fromFile = spawnCli(['backfill', '--json', path], env(queue));
    expect(await fromFile.exited).toBe(0);
    const entry = fileURLToPath(new URL('../helpers/cli-entry.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', entry, 'backfill', '--json', '-'],
      {
        env: { PATH: process.env.PATH ?? '', ...env(queue) },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stdin.end(readFileSync(path));
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(0);
    expect(JSON.parse(out).enqueued).toMatchObject({ jobs: 3, added: 0, already_there: 3 });
  });

  it('--dry-run estimates tokens, standard and Batches cost and the time the limits need, enqueuing nothing', async () => {
    const queue = uniqueQueue();
    const path = file('dry.jsonl', [
      body('x'.repeat(400)),
      batchLine('d-1', 'y'.repeat(400)),
      body('bad', { max_tokens: -1 }),
    ]);
    const run = spawnCli(
      ['backfill', '--dry-run', '--json', '--rpm', '60', '--otpm', '10', path],
      env(queue),
    );
    expect(await run.exited).toBe(0);
    const e = JSON.parse(run.stdout());
    expect(e).toMatchObject({ lines: 3, jobs: 2, invalid: 1, outputTokens: 40, bindingLimit: 'otpm' });
    expect(e.inputTokens).toBeGreaterThan(200);
    expect(e.models[0]).toMatchObject({ model, inputSource: 'local', outputRatio: 1 });
    expect(e.standardUsd).toBeGreaterThan(0);
    expect(e.batchesUsd).toBeCloseTo(e.standardUsd / 2, 9);
    expect(e.rateLimitedSeconds).toBeCloseTo(240, 6);
    expect(await jobCount(queue)).toBe(0);

    const text = spawnCli(['backfill', '--dry-run', path], env(queue));
    expect(await text.exited).toBe(0);
    expect(text.stdout()).toMatch(/cost at Batches API price \(50%, results within 24 h\): \$/);
    expect(text.stdout()).toMatch(/time: unknown — pass --rpm\/--itpm\/--otpm/);
  });

  it('--out waits and writes one result per line in input order; results FILE writes them again; a failure exits 1', async () => {
    // Concurrency 1 and one tenant: the worker takes jobs in input order, so the scripted 400 hits
    // line 2. (Across tenants the queue is round robin, not input order: src/fairness.ts.)
    const stack = await startStack({
      env: { PROMPTQ_CONCURRENCY: '1' },
      parts: { api: false, worker: true },
    });
    try {
      stack.sim.script([{ ok: true, outputTokens: 5 }, { status: 400 }]);
      const lines = [
        body('first'),
        batchLine('second', 'two'),
        body('third', { id: 'own-id' }),
        '',
        '{"broken"',
        batchLine('fifth', 'five'),
        body('sixth'),
      ];
      const path = file('results.jsonl', lines);
      const out = join(dir, 'out.jsonl');
      const e = { ...env(stack.config.queue), ANTHROPIC_API_KEY: 'sk-ant-unused-by-backfill-0123' };
      const run = spawnCli(['backfill', '--skip-invalid', '--tenant', 't1', '--json', '--out', out, path], e);
      expect(await run.exited).toBe(1);
      const { summary } = JSON.parse(run.stdout());
      expect(summary).toMatchObject({
        lines: 6,
        succeeded: 4,
        failed: 1,
        invalid: 1,
        pending: 0,
        missing: 0,
      });
      expect(summary.failures_by_reason).toEqual({ invalid_request_error: 1 });
      expect(summary.latency_ms.p50).toBeGreaterThan(0);
      expect(summary.latency_ms.p95).toBeGreaterThanOrEqual(summary.latency_ms.p50);

      const results = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(results.map((r) => r.line)).toEqual([1, 2, 3, 5, 6, 7]);
      expect(results.map((r) => r.custom_id)).toEqual([null, 'second', 'own-id', null, 'fifth', null]);
      expect(results.map((r) => r.result.type)).toEqual([
        'succeeded',
        'errored',
        'succeeded',
        'invalid',
        'succeeded',
        'succeeded',
      ]);
      expect(results[0].result.message).toMatchObject({ type: 'message', role: 'assistant', model });
      expect(results[0].record.output_tokens).toBe(5);
      expect(results[1].result.error.type).toBe('invalid_request_error');
      expect(results[1].record.status_code).toBe(400);
      expect(results[2].job_id).toBe('own-id');
      expect(results[5].record.tenant_id).toBe('t1');
      let tokens = 0;
      for (const r of results) tokens += r.record?.output_tokens ?? 0;
      expect(summary.output_tokens).toBe(tokens);
      expect(stack.sim.stats().requests).toBeGreaterThanOrEqual(5);

      // Later, from Redis alone: the same lines.
      const again = join(dir, 'again.jsonl');
      const later = spawnCli(['results', path, '--tenant', 't1', '--out', again], e);
      expect(await later.exited).toBe(1);
      expect(readFileSync(again, 'utf8')).toBe(readFileSync(out, 'utf8'));
      // Without --out the lines go to stdout (here a socket, which /dev/stdout cannot be opened on),
      // the summary to stderr.
      const toStdout = spawnCli(['results', path, '--tenant', 't1'], e);
      expect(await toStdout.exited).toBe(1);
      expect(toStdout.stdout()).toBe(readFileSync(out, 'utf8'));
      expect(toStdout.stderr()).toContain('succeeded');

      // A dry run on this queue now knows the usual output/max_tokens ratio, and --count-tokens
      // asks the API (the simulator) once per valid line.
      const countBefore = stack.sim.stats().countTokensRequests;
      const dry = spawnCli(['backfill', '--dry-run', '--count-tokens', '--json', path], {
        ...e,
        ANTHROPIC_BASE_URL: stack.sim.url,
      });
      expect(await dry.exited).toBe(0);
      const est = JSON.parse(dry.stdout());
      expect(est.models[0]).toMatchObject({ model, inputSource: 'count_tokens', outputRatioSamples: 4 });
      expect(est.models[0].outputRatio).toBeGreaterThan(0);
      expect(est.models[0].outputRatio).toBeLessThanOrEqual(1);
      expect(est.outputTokens).toBe(Math.round(5 * 20 * est.models[0].outputRatio));
      expect(stack.sim.stats().countTokensRequests - countBefore).toBe(5);
    } finally {
      await stack.close();
    }
  });
});
