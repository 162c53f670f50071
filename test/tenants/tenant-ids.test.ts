/**
 * Ids are per tenant (store/keys.ts `scopedJobId`): two tenants use one id without seeing or
 * blocking each other, answers about another tenant's id are those of an id nobody uses, and a
 * tenant cannot plant the result of a backfill line the admin runs for another tenant. A backfill
 * line whose id names a job with a different request is a per-line error, never that job's result.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServedResponse } from '@promptq/anthropic-simulator';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../helpers/cli.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';
import { redisEnv } from '../helpers/topology.js';

const admin = 'admin-token-0123456789abcdef';
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const model = 'claude-haiku-4-5';
const job = (prompt: string, extra: Record<string, unknown> = {}) => ({
  model,
  max_tokens: 5,
  prompt,
  ...extra,
});
const batchLine = (id: string, content: string) =>
  JSON.stringify({ custom_id: id, params: { model, max_tokens: 5, messages: [{ role: 'user', content }] } });
const promptOf = (view: { request: { messages: Array<{ content: unknown }> } }) =>
  view.request.messages[0]?.content;

describe('ids are per tenant', () => {
  let s: Stack | undefined;
  let dir: string;
  const served: ServedResponse[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'promptq-ids-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    await s?.close();
    s = undefined;
    served.length = 0;
  });

  async function tenant(name: string): Promise<string> {
    const r = await post(`${s!.url}/v1/tenants`, { name }, bearer(admin));
    expect(r.status).toBe(201);
    return r.body.token as string;
  }

  it('two tenants use one id, each sees its own job; another tenant’s id answers as an unknown one', async () => {
    s = await startStack({ env: { PROMPTQ_AUTH_TOKEN: admin }, parts: { worker: false } });
    const acme = await tenant('acme');
    const globex = await tenant('globex');

    expect((await post(`${s.url}/v1/jobs`, job('from acme', { id: 'req-1' }), bearer(acme))).status).toBe(
      202,
    );
    // The same id by another tenant: its own new job (neither blocked nor told the id is taken).
    const theirs = await post(`${s.url}/v1/jobs`, job('from globex', { id: 'req-1' }), bearer(globex));
    expect(theirs.status).toBe(202);
    expect(theirs.body.id).toBe('req-1');
    expect(promptOf((await get(`${s.url}/v1/jobs/req-1`, bearer(acme))).body as never)).toBe('from acme');
    expect(promptOf((await get(`${s.url}/v1/jobs/req-1`, bearer(globex))).body as never)).toBe('from globex');
    // Idempotent within the tenant; a different request under the tenant's own id is its conflict.
    expect((await post(`${s.url}/v1/jobs`, job('from acme', { id: 'req-1' }), bearer(acme))).status).toBe(
      200,
    );
    const clash = await post(`${s.url}/v1/jobs`, job('other', { id: 'req-1' }), bearer(acme));
    expect(clash.status).toBe(409);
    expect(JSON.stringify(clash.body)).not.toMatch(/tenant/i);
    // Batches too: globex's batch may name acme's id.
    const batch = await post(
      `${s.url}/v1/jobs/batch`,
      { jobs: [job('g2', { id: 'acme-only' })] },
      bearer(globex),
    );
    expect(batch.status).toBe(202);
    expect(batch.body.ids).toEqual(['acme-only']);
    // Answers name the caller's id, never the stored one.
    const dup = await post(
      `${s.url}/v1/jobs/batch`,
      { jobs: [job('a', { id: 'dup' }), job('b', { id: 'dup' })] },
      bearer(globex),
    );
    expect(dup.body.error?.message).toBe('jobs.1.id: duplicate id "dup" in this batch');

    // An id only globex uses, and one nobody uses: the same answer to acme, but for the id.
    const onlyGlobex = await post(`${s.url}/v1/jobs`, job('g', { id: 'g-7' }), bearer(globex));
    expect(onlyGlobex.status).toBe(202);
    const taken = await get(`${s.url}/v1/jobs/g-7`, bearer(acme));
    const free = await get(`${s.url}/v1/jobs/g-8`, bearer(acme));
    expect([taken.status, free.status]).toEqual([404, 404]);
    expect(JSON.stringify(taken.body).replace('g-7', 'ID')).toBe(
      JSON.stringify(free.body).replace('g-8', 'ID'),
    );

    // The admin reads a tenant's ids with ?tenant=.
    const forAcme = await get(`${s.url}/v1/jobs/req-1?tenant=acme`, bearer(admin));
    expect(promptOf(forAcme.body as never)).toBe('from acme');
    expect((await get(`${s.url}/v1/jobs/req-1?tenant=globex`, bearer(admin))).body.id).toBe('req-1');
  });

  it('a tenant’s job req-1 does not stand for the backfill line req-1 the admin runs for another tenant', async () => {
    s = await startStack({
      env: { PROMPTQ_AUTH_TOKEN: admin },
      sim: { onServed: (r) => served.push(r) },
    });
    const mallory = await tenant('mallory');
    // The attacker's job, finished before the admin's backfill.
    const planted = await post(`${s.url}/v1/jobs`, job('planted', { id: 'req-1' }), bearer(mallory));
    expect(planted.status).toBe(202);
    const done = await get(`${s.url}/v1/jobs/req-1?wait=30`, bearer(mallory));
    expect(done.body.state).toBe('completed');
    expect(served.map((r) => r.userId)).toEqual(['mallory']);

    const path = join(dir, 'victim.jsonl');
    writeFileSync(path, `${batchLine('req-1', 'the victim line')}\n`);
    const out = join(dir, 'victim-out.jsonl');
    const env = {
      ...redisEnv(),
      PROMPTQ_QUEUE: s.config.queue,
      ANTHROPIC_API_KEY: 'sk-ant-unused-0123456789',
    };
    const run = spawnCli(['backfill', '--tenant', 'victim', '--json', '--out', out, path], env);
    expect(await run.exited).toBe(0);
    const [result] = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(result).toMatchObject({ custom_id: 'req-1', job_id: 'req-1', result: { type: 'succeeded' } });
    expect(result.record.tenant_id).toBe('victim');
    // The simulator's own count: the victim's line was served, as a second request.
    expect(served.map((r) => r.userId)).toEqual(['mallory', 'victim']);
  });

  it('a backfill line whose id names a job with a different request is an error on that line', async () => {
    s = await startStack({ sim: { onServed: (r) => served.push(r) } });
    const env = {
      ...redisEnv(),
      PROMPTQ_QUEUE: s.config.queue,
      ANTHROPIC_API_KEY: 'sk-ant-unused-0123456789',
    };
    const first = join(dir, 'first.jsonl');
    writeFileSync(first, `${batchLine('x-1', 'first request')}\n`);
    const run1 = spawnCli(['backfill', '--out', join(dir, 'first-out.jsonl'), first], env);
    expect(await run1.exited).toBe(0);
    expect(served).toHaveLength(1);

    const second = join(dir, 'second.jsonl');
    writeFileSync(second, `${batchLine('x-1', 'another request')}\n`);
    const out = join(dir, 'second-out.jsonl');
    const run2 = spawnCli(['backfill', '--json', '--out', out, second], env);
    expect(await run2.exited).toBe(1);
    const result = JSON.parse(readFileSync(out, 'utf8').trim());
    expect(result.result).toMatchObject({ type: 'errored', error: { type: 'id_conflict' } });
    expect(result.result.error.message).toMatch(/exists with a different request/);
    expect(result.record).toBeNull();
    // The first request's answer was not handed out as the second's, and nothing ran twice.
    expect(served).toHaveLength(1);
  });
});
