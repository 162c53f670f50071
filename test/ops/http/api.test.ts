import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../../src/ops/http/openapi.js';
import { bullJobId, scopedJobId } from '../../../src/store/keys.js';

/** The BullMQ id of acme's job `id` (ids are per tenant: store/keys.ts). */
const acmeJob = (id: string) => bullJobId(scopedJobId(id, 'acme'));

import { get, post, type Stack, startStack } from '../../helpers/stack.js';

/** The API alone (no worker), so queued jobs stay put while we look at them. */
describe('HTTP API: enqueue routes', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ parts: { worker: false } });
  });
  afterAll(() => s.close());

  const body = {
    model: 'claude-haiku-4-5',
    max_tokens: 50,
    prompt: 'Write a haiku about the sea',
    tenant_id: 'acme',
  };

  it('POST /v1/jobs → 202 {id, state}; GET shows the request and a record', async () => {
    const r = await post(`${s.url}/v1/jobs`, body);
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ id: expect.stringMatching(/^[A-Za-z0-9_-]+$/), state: 'waiting' });
    const g = await get(`${s.url}/v1/jobs/${r.body.id}`);
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({
      id: r.body.id,
      state: 'waiting',
      request: {
        model: 'claude-haiku-4-5',
        max_tokens: 50,
        messages: [{ role: 'user', content: body.prompt }],
        tenant_id: 'acme',
        metadata: { user_id: 'acme' },
      },
      result: null,
      error: null,
      record: { model: 'claude-haiku-4-5', tenant_id: 'acme', max_tokens: 50, attempts: 0, started_at: null },
    });
  });

  it('GET /openapi.json describes the API, with the job schema as the body of POST /v1/jobs', async () => {
    const r = await get(`${s.url}/openapi.json`);
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    expect(Object.keys(r.body.paths)).toEqual(
      expect.arrayContaining(['/v1/jobs', '/v1/jobs/batch', '/v1/jobs/{id}']),
    );
    // The limits it states are the configuration's.
    const batch = r.body.paths['/v1/jobs/batch'].post;
    expect(batch.requestBody.content['application/json'].schema.properties.jobs.maxItems).toBe(
      s.config.jobs.maxBatch,
    );
    expect(batch.summary).toBe(`Enqueue up to ${s.config.jobs.maxBatch} jobs, all or nothing`);
    const wait = r.body.paths['/v1/jobs/{id}'].get.parameters.find(
      (p: { name: string }) => p.name === 'wait',
    );
    expect(wait.schema.maximum).toBe(s.config.http.maxWaitSeconds);
    const other = openApiDocument({ maxBatch: 7, maxWaitSeconds: 9 }) as typeof r.body;
    expect(other.paths['/v1/jobs/{id}'].get.parameters[1].schema.maximum).toBe(9);
    const job = r.body.components.schemas.Job;
    expect(job.required).toEqual(['model', 'max_tokens']);
    for (const f of [
      'tools',
      'tool_choice',
      'thinking',
      'top_k',
      'service_tier',
      'tenant_id',
      'fallback_models',
    ])
      expect(job.properties, f).toHaveProperty(f);
  });

  it('a job with tools, thinking and a field promptq does not know is accepted and stored as sent', async () => {
    const job = {
      ...body,
      tools: [{ name: 'get_weather', input_schema: { type: 'object' } }],
      tool_choice: { type: 'any' },
      max_tokens: 4000,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      context_management: { edits: [] },
    };
    const r = await post(`${s.url}/v1/jobs`, job);
    expect(r.status).toBe(202);
    const g = await get(`${s.url}/v1/jobs/${r.body.id}`);
    expect(g.body.request).toMatchObject({
      tools: job.tools,
      tool_choice: job.tool_choice,
      thinking: job.thinking,
      context_management: { edits: [] },
    });
    const bad = await post(`${s.url}/v1/jobs`, { ...job, tool_choice: { type: 'tool' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toMatch(/^tool_choice\.name: /);
  });

  it('the same id twice makes one job: 202 then 200 with the existing job', async () => {
    const id = `idem-${Date.now()}`;
    const a = await post(`${s.url}/v1/jobs`, { ...body, id });
    const b = await post(`${s.url}/v1/jobs`, { ...body, id });
    expect(a).toEqual({ status: 202, body: { id, state: 'waiting' } });
    expect(b).toEqual({ status: 200, body: { id, state: 'waiting' } });
    expect(await s.bull.getJobCountByTypes('waiting', 'prioritized')).toBeGreaterThanOrEqual(1);
    const jobs = await s.bull.getJobs(['waiting', 'prioritized']);
    expect(jobs.filter((j) => j.id === acmeJob(id))).toHaveLength(1);
    const g = await get(`${s.url}/v1/jobs/${id}?tenant=acme`);
    expect(g.body.request.messages[0].content).toBe(body.prompt);
  });

  it('the same id with a different request is a 409; nothing is enqueued, the first job stands', async () => {
    const id = `clash-${Date.now()}`;
    expect((await post(`${s.url}/v1/jobs`, { ...body, id })).status).toBe(202);
    const other = await post(`${s.url}/v1/jobs`, { ...body, id, prompt: 'someone else’s work' });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ type: 'conflict' });
    expect(other.body.error?.message).toBe(
      `id: a job with id "${id}" exists with a different request; use another id`,
    );
    // Ids are per tenant: another tenant's job of this id is another job (test/tenants/tenant-ids.test.ts).
    const tenant = await post(`${s.url}/v1/jobs`, { ...body, id, tenant_id: 'other-tenant' });
    expect(tenant.status).toBe(202);
    // In a batch: all or nothing, the field named.
    const fresh = `fresh-${Date.now()}`;
    const batch = await post(`${s.url}/v1/jobs/batch`, {
      jobs: [
        { ...body, id: fresh },
        { ...body, id, prompt: 'different' },
      ],
    });
    expect(batch.status).toBe(409);
    expect(batch.body.error?.message).toMatch(/^jobs\.1\.id: a job with id/);
    expect((await get(`${s.url}/v1/jobs/${fresh}?tenant=acme`)).status).toBe(404);
    expect((await get(`${s.url}/v1/jobs/${id}?tenant=acme`)).body.request.messages[0].content).toBe(
      body.prompt,
    );
    // The same request again is still the idempotent 200.
    expect((await post(`${s.url}/v1/jobs`, { ...body, id })).status).toBe(200);
  });

  it('concurrent submissions of one id make one job and one 202', async () => {
    const id = `race-${Date.now()}`;
    const rs = await Promise.all(Array.from({ length: 8 }, () => post(`${s.url}/v1/jobs`, { ...body, id })));
    expect(rs.every((r) => r.body.id === id)).toBe(true);
    expect(rs.filter((r) => r.status === 202)).toHaveLength(1);
    expect(rs.filter((r) => r.status === 200)).toHaveLength(7);
    const jobs = await s.bull.getJobs(['waiting', 'prioritized']);
    expect(jobs.filter((j) => j.id === acmeJob(id))).toHaveLength(1);
  });

  it.each([
    [{ ...body, max_tokens: 0 }, 'max_tokens'],
    [{ ...body, model: undefined }, 'model'],
    [{ model: 'm', max_tokens: 5 }, 'messages'],
    [{ ...body, messages: 'hi', prompt: undefined }, 'messages'],
    [{ ...body, id: 'bad id' }, 'id'],
    [{ ...body, priority: -1 }, 'priority'],
    [{ ...body, max_token: 5 }, 'max_token'],
    [{ ...body, Colour: 'red' }, 'Colour'],
    [[body], 'body'],
  ])('400 names the bad field (%#: %s)', async (bad, field) => {
    const before = await s.bull.count();
    const r = await post(`${s.url}/v1/jobs`, bad);
    expect(r.status).toBe(400);
    expect(r.body.error?.type).toBe('invalid_request');
    expect(r.body.error?.message.startsWith(`${field}: `)).toBe(true);
    expect(r.body.error?.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    expect(await s.bull.count()).toBe(before);
  });

  it('malformed JSON and oversize bodies are clear 4xx', async () => {
    const bad = await post(`${s.url}/v1/jobs`, '{"model": ');
    expect(bad.status).toBe(400);
    expect(bad.body.error?.type).toBe('invalid_json');
    const huge = await post(`${s.url}/v1/jobs`, { ...body, prompt: 'x'.repeat(5 * 1024 * 1024) });
    expect(huge.status).toBe(413);
    expect(huge.body.error?.type).toBe('payload_too_large');
  });

  it('POST /v1/jobs/batch → 202 {ids}; one bad job rejects the whole batch', async () => {
    const ok = await post(`${s.url}/v1/jobs/batch`, {
      jobs: [body, { ...body, tenant_id: 'other' }, { ...body, id: `b-${Date.now()}` }],
    });
    expect(ok.status).toBe(202);
    expect(ok.body.ids).toHaveLength(3);
    // The job given an id is acme's by that id (ids are per tenant); generated ids are unique.
    const [first, second, given] = ok.body.ids as string[];
    for (const id of [first, second]) expect((await get(`${s.url}/v1/jobs/${id}`)).status).toBe(200);
    expect((await get(`${s.url}/v1/jobs/${given}?tenant=acme`)).status).toBe(200);
    expect((await get(`${s.url}/v1/jobs/${given}`)).body.error.message).toMatch(/\?tenant=/);

    const before = await s.bull.count();
    const bad = await post(`${s.url}/v1/jobs/batch`, { jobs: [body, { ...body, max_tokens: 'lots' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toMatch(/^jobs\.1\.max_tokens: /);
    expect(await s.bull.count()).toBe(before);

    for (const b of [{}, { jobs: [] }, { jobs: 'x' }, { jobs: [body], extra: 1 }]) {
      expect((await post(`${s.url}/v1/jobs/batch`, b)).status).toBe(400);
    }
  });

  it('GET an unknown id → 404; a bad wait → 400; wait on an unfinished job returns its state after the timeout', async () => {
    const nf = await get(`${s.url}/v1/jobs/does-not-exist`);
    expect(nf.status).toBe(404);
    expect(nf.body.error.type).toBe('not_found');
    const r = await post(`${s.url}/v1/jobs`, body);
    expect((await get(`${s.url}/v1/jobs/${r.body.id}?wait=abc`)).status).toBe(400);
    const t0 = Date.now();
    const w = await get(`${s.url}/v1/jobs/${r.body.id}?wait=0.3`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(w.body.state).toBe('waiting');
  });

  it('serves /healthz, /readyz, /metrics and Bull Board', async () => {
    expect((await get(`${s.url}/healthz`)).body).toEqual({ ok: true });
    expect((await get(`${s.url}/readyz`)).body).toMatchObject({ ok: true });
    const m = await get(`${s.url}/metrics`);
    expect(m.status).toBe(200);
    expect(m.body.text).toContain('promptq_queue_jobs{queue=');
    const board = await fetch(`${s.url}/admin/queues`);
    expect(board.status).toBe(200);
    expect(await board.text()).toContain('<html');
    const api = await get(`${s.url}/admin/queues/api/queues`);
    expect(JSON.stringify(api.body)).toContain(s.config.queue);
    expect((await get(`${s.url}/nope`)).status).toBe(404);
  });
});

describe('HTTP API: bearer token', () => {
  let s: Stack;
  const token = 'test-token-0123456789abcdef';
  beforeAll(async () => {
    s = await startStack({ parts: { worker: false }, env: { PROMPTQ_AUTH_TOKEN: token } });
  });
  afterAll(() => s.close());

  it('protects the API, metrics and Bull Board; health stays open', async () => {
    const body = { model: 'claude-haiku-4-5', max_tokens: 5, prompt: 'x' };
    expect((await post(`${s.url}/v1/jobs`, body)).status).toBe(401);
    expect(
      (await post(`${s.url}/v1/jobs`, body, { authorization: 'Bearer wrong-token-0123456789ab' })).status,
    ).toBe(401);
    expect((await post(`${s.url}/v1/jobs`, body, { authorization: `Bearer ${token}` })).status).toBe(202);
    expect((await get(`${s.url}/metrics`)).status).toBe(401);
    const board = await fetch(`${s.url}/admin/queues`);
    expect(board.status).toBe(401);
    expect(board.headers.get('www-authenticate')).toMatch(/^Basic/);
    const basic = Buffer.from(`admin:${token}`).toString('base64');
    expect(
      (await fetch(`${s.url}/admin/queues`, { headers: { authorization: `Basic ${basic}` } })).status,
    ).toBe(200);
    expect((await get(`${s.url}/healthz`)).status).toBe(200);
    expect((await get(`${s.url}/readyz`)).status).toBe(200);
  });
});
