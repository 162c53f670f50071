import { afterEach, describe, expect, it } from 'vitest';
import {
  type ServedResponse,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';
import { API_HEADERS, body, errorMessage, message, post } from './helpers.js';

describe('simulator HTTP surface', () => {
  let sim: Simulator;
  const start = async (opts: SimulatorOptions = {}) => {
    sim = await startSimulator({ ttftMs: 0, msPerToken: 0, ...opts });
    return sim;
  };

  afterEach(async () => {
    await sim?.close();
  });

  it('authenticates with x-api-key or Bearer, and checks the key when configured', async () => {
    await start({ apiKey: 'sk-ant-right' });
    const { 'x-api-key': _k, ...noKey } = API_HEADERS;
    const missing = await post(sim, '/v1/messages', body(), noKey);
    expect(missing.status).toBe(401);
    expect(missing.json).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect(missing.json.request_id).toMatch(/^req_[0-9A-Za-z]{24}$/);
    const wrong = await post(sim, '/v1/messages', body(), { ...API_HEADERS, 'x-api-key': 'sk-ant-wrong' });
    expect(wrong.status).toBe(401);
    expect(JSON.stringify(wrong.json)).not.toContain('sk-ant-wrong');
    const bearer = await post(sim, '/v1/messages', body(), {
      ...noKey,
      authorization: 'Bearer sk-ant-right',
    });
    expect(bearer.status).toBe(200);
  });

  it('requires anthropic-version and valid JSON', async () => {
    await start();
    const { 'anthropic-version': _v, ...noVersion } = API_HEADERS;
    const res = await post(sim, '/v1/messages', body(), noVersion);
    expect(res.status).toBe(400);
    expect(errorMessage(res.json)).toContain('anthropic-version');
    const broken = await post(sim, '/v1/messages', '{"model": ');
    expect(broken.status).toBe(400);
    expect(broken.json).toMatchObject({ error: { type: 'invalid_request_error' } });
  });

  it('validation errors name the field, as the real API does', async () => {
    await start();
    const res = await message(sim, { messages: [{ role: 'robot', content: 'hi' }] });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(errorMessage(res.json)).toMatch(/^messages\.0\.role: /);
    expect(res.json.request_id).toBe(res.headers.get('request-id'));
    const unknown = await message(sim, { model: 'gpt-4o' });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: { type: 'not_found_error', message: 'model: gpt-4o' } });
  });

  it('413 request_too_large over the body limit', async () => {
    await start({ maxBodyBytes: 1_000 });
    const res = await message(sim, { messages: [{ role: 'user', content: 'x'.repeat(5_000) }] });
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: { type: 'request_too_large' } });
  });

  it('unknown routes 404 with a request-id', async () => {
    await start();
    const res = await fetch(`${sim.url}/v1/nothing`);
    expect(res.status).toBe(404);
    expect(res.headers.get('request-id')).toMatch(/^req_/);
    expect(((await res.json()) as { type: string }).type).toBe('error');
  });

  it('streams raw SSE framing like the real API', async () => {
    await start();
    sim.script([{ ok: true, outputTokens: 9 }]);
    const res = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: API_HEADERS,
      body: JSON.stringify(body({ stream: true })),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('anthropic-ratelimit-requests-remaining')).not.toBeNull();
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)\n\n/gm)].map((m) => m[1]);
    expect(events).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(text).toContain('"usage":{"output_tokens":9,"output_tokens_details":{"thinking_tokens":0}}');
  });

  it('non-streaming responses take the generation time', async () => {
    await start({ ttftMs: 60, msPerToken: 1 });
    sim.script([{ ok: true, outputTokens: 40 }]);
    const t0 = performance.now();
    const res = await message(sim);
    expect(res.status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
  });

  it('random faults follow the seed', async () => {
    const run = async () => {
      await start({ seed: 99, faults: { overloaded: 0.3, apiError: 0.2 } });
      const statuses: number[] = [];
      for (let i = 0; i < 25; i++) statuses.push((await message(sim)).status);
      const stats = sim.stats();
      await sim.close();
      return { statuses, stats };
    };
    const a = await run();
    const b = await run();
    expect(a.statuses).toEqual(b.statuses);
    expect(new Set(a.statuses)).toEqual(new Set([200, 500, 529]));
    const count = (code: number) => a.statuses.filter((s) => s === code).length;
    expect(a.stats).toMatchObject({
      requests: 25,
      overloaded: count(529),
      apiErrors: count(500),
      succeeded: count(200),
      byStatus: { '200': count(200), '500': count(500), '529': count(529) },
    });
    const overloadedBody = await (async () => {
      await start({ faults: { overloaded: 1 } });
      return (await message(sim)).json;
    })();
    expect(overloadedBody).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error', message: 'Overloaded' },
    });
  });

  it('random drops and mid-stream errors', async () => {
    await start({ faults: { drop: 1 } });
    await expect(message(sim)).rejects.toThrow();
    expect(sim.stats().drops).toBe(1);
    await sim.close();
    await start({ faults: { midstream: 1 } });
    const res = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: API_HEADERS,
      body: JSON.stringify(body({ stream: true })),
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain('content_block_delta');
    expect(text).toContain(
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
    );
    expect(text).not.toContain('message_stop');
    // Non-streaming calls cannot fail mid-stream: they get a late 529.
    expect((await message(sim)).status).toBe(529);
    expect(sim.stats()).toMatchObject({ midstreamErrors: 2, overloaded: 1 });
  });

  it('close() ends hung requests and resolves', async () => {
    await start({ faults: { hang: 1 } });
    const pending = message(sim);
    // Wait until the simulator has the request (ground truth, not a sleep).
    while (sim.stats().hangs === 0) await new Promise((r) => setImmediate(r));
    expect(sim.stats().inFlight).toBe(1);
    await sim.close();
    await expect(pending).rejects.toThrow();
  });

  it('ground truth at /__stats, admin script and reset', async () => {
    await start({ limits: { rpm: 1_000 } });
    const json = { 'content-type': 'application/json' };
    const scripted = await post(
      sim,
      '/__admin/script',
      [{ status: 500 }, { ok: true, outputTokens: 7 }],
      json,
    );
    expect(scripted.json).toMatchObject({ ok: true, queued: 2 });
    expect((await message(sim)).status).toBe(500);
    const ok = await message(sim, { model: 'claude-haiku-4-5' });
    expect((ok.json.usage as { output_tokens: number }).output_tokens).toBe(7);
    const stats = (await (await fetch(`${sim.url}/__stats`)).json()) as Record<string, unknown>;
    expect(stats).toMatchObject({
      requests: 2,
      apiErrors: 1,
      succeeded: 1,
      outputTokens: 7,
      byStatus: { '200': 1, '500': 1 },
      defaultLimits: { rpm: 1_000 },
      groups: { sonnet: { requests: 1, apiErrors: 1 }, haiku: { requests: 1, outputTokens: 7 } },
    });
    expect(typeof stats.firstSuccessAt).toBe('number');
    const bad = await post(sim, '/__admin/script', [{ status: 418 }], json);
    expect(bad.status).toBe(400);
    expect(errorMessage(bad.json)).toContain('faults.0.status');
    expect(() => sim.script([{ ok: true, outputTokens: -1 }])).toThrow(/faults\.0\.outputTokens/);
    expect((await post(sim, '/__admin/reset', {}, json)).status).toBe(200);
    expect(sim.stats()).toMatchObject({ requests: 0, succeeded: 0, firstSuccessAt: null });
  });

  it('onServed reports each admitted message as served, and /healthz answers', async () => {
    const served: ServedResponse[] = [];
    await start({ onServed: (r) => served.push(r) });
    sim.script([{ status: 529 }, { ok: true, outputTokens: 12 }]);
    await message(sim);
    const res = await message(sim, { metadata: { user_id: 'acme' } });
    expect(served).toHaveLength(1); // the 529 was never admitted
    expect(served[0]).toMatchObject({
      requestId: res.headers.get('request-id'),
      messageId: res.json.id,
      model: 'claude-sonnet-4-6',
      group: 'sonnet',
      stream: false,
      userId: 'acme',
      outcome: 'completed',
      usage: { output_tokens: 12, cache_read_input_tokens: 0 },
    });
    expect(served[0]?.usage.input_tokens).toBe((res.json.usage as { input_tokens: number }).input_tokens);
    expect((await fetch(`${sim.url}/healthz`)).status).toBe(200);
  });

  it('count_tokens over HTTP', async () => {
    await start();
    const res = await post(sim, '/v1/messages/count_tokens', {
      model: 'claude-sonnet-4-6',
      messages: [{ role: 'user', content: 'Hello there, simulator!' }],
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ input_tokens: 4 + 3 + 6 }); // Hello , there simu|lator !
    const bad = await post(sim, '/v1/messages/count_tokens', { model: 'claude-sonnet-4-6', messages: [] });
    expect(bad.status).toBe(400);
  });
});
