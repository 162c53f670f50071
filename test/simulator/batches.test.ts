import Anthropic, { BadRequestError, NotFoundError } from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseSimulateArgs,
  type Simulator,
  SimulatorOptionError,
  startSimulator,
} from '../../packages/anthropic-simulator/src/index.js';

const params = (content: string) => ({
  model: 'claude-haiku-4-5',
  max_tokens: 50,
  messages: [{ role: 'user' as const, content }],
});

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('simulator: Message Batches API through the SDK', () => {
  let sim: Simulator | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });
  const client = (s: Simulator) => new Anthropic({ apiKey: 'k', baseURL: s.url, maxRetries: 0 });

  it('create → in_progress with moving counts → ended → JSONL results for every custom_id', async () => {
    sim = await startSimulator({
      batches: { processingSeconds: 1.5, errorRate: 0.1, expiryRate: 0.1 },
      seed: 7,
    });
    const c = client(sim);
    const requests = Array.from({ length: 200 }, (_, i) => ({
      custom_id: `r-${i}`,
      params: params(`q ${i}`),
    }));
    requests[5] = { custom_id: 'r-5', params: { ...params('x'), max_tokens: 0 } };
    const created = await c.messages.batches.create({ requests });
    expect(created).toMatchObject({
      type: 'message_batch',
      processing_status: 'in_progress',
      results_url: null,
    });
    expect(created.request_counts).toEqual({
      processing: 200,
      succeeded: 0,
      errored: 0,
      canceled: 0,
      expired: 0,
    });
    expect(Date.parse(created.expires_at) - Date.parse(created.created_at)).toBe(24 * 3600 * 1000);
    const mid = await until(
      () => c.messages.batches.retrieve(created.id),
      (b) => b.request_counts.succeeded > 0,
    );
    expect(mid.processing_status).toBe('in_progress');
    const ended = await until(
      () => c.messages.batches.retrieve(created.id),
      (b) => b.processing_status === 'ended',
    );
    const n = ended.request_counts;
    expect(n.processing).toBe(0);
    expect(n.succeeded + n.errored + n.expired).toBe(200);
    expect(n.errored).toBeGreaterThan(5);
    expect(n.expired).toBeGreaterThan(5);
    expect(ended.ended_at).not.toBeNull();
    expect(ended.results_url).toBe(`${sim.url}/v1/messages/batches/${created.id}/results`);

    const seen = new Map<string, Anthropic.Messages.MessageBatchResult>();
    for await (const r of await c.messages.batches.results(created.id)) seen.set(r.custom_id, r.result);
    expect(seen.size).toBe(200);
    const types = [...seen.values()].map((r) => r.type);
    expect(types.filter((t) => t === 'succeeded').length).toBe(n.succeeded);
    expect(types.filter((t) => t === 'expired').length).toBe(n.expired);
    const bad = seen.get('r-5');
    expect(bad?.type).toBe('errored');
    if (bad?.type === 'errored') expect(bad.error.error.type).toBe('invalid_request_error');
    const ok = [...seen.values()].find((r) => r.type === 'succeeded');
    if (ok?.type !== 'succeeded') throw new Error('no success');
    expect(ok.message.usage.output_tokens).toBeGreaterThan(0);
    expect(ok.message.usage.service_tier).toBe('batch');
    // Batches do not use the Messages rate limits.
    expect(sim.stats().requests).toBe(0);
  });

  it('list pages newest first; cancel ends unprocessed requests as canceled', async () => {
    sim = await startSimulator({ batches: { processingSeconds: 30, cancelSeconds: 0.2 } });
    const c = client(sim);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await c.messages.batches.create({ requests: [{ custom_id: `a${i}`, params: params('x') }] })).id,
      );
    }
    const first = await c.messages.batches.list({ limit: 2 });
    expect(first.data.map((b) => b.id)).toEqual([ids[4], ids[3]]);
    expect(first.has_more).toBe(true);
    const all: string[] = [];
    for await (const b of c.messages.batches.list({ limit: 2 })) all.push(b.id);
    expect(all).toEqual([...ids].reverse());

    const canceling = await c.messages.batches.cancel(ids[0]!);
    expect(canceling.processing_status).toBe('canceling');
    expect(canceling.cancel_initiated_at).not.toBeNull();
    const ended = await until(
      () => c.messages.batches.retrieve(ids[0]!),
      (b) => b.processing_status === 'ended',
    );
    expect(ended.request_counts.canceled).toBe(1);
    const results = [];
    for await (const r of await c.messages.batches.results(ids[0]!)) results.push(r);
    expect(results).toEqual([{ custom_id: 'a0', result: { type: 'canceled' } }]);
  });

  it("answers with the API's limits and error bodies", async () => {
    sim = await startSimulator({ batches: { maxRequests: 3 } });
    const c = client(sim);
    const create = async (requests: unknown) => {
      try {
        await c.messages.batches.create({ requests } as never);
        return null;
      } catch (err) {
        return err as BadRequestError;
      }
    };
    const tooMany = await create(
      Array.from({ length: 4 }, (_, i) => ({ custom_id: `x${i}`, params: params('x') })),
    );
    expect(tooMany).toBeInstanceOf(BadRequestError);
    expect(tooMany?.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect((await create([{ custom_id: 'has space', params: params('x') }]))?.message).toMatch(/custom_id/);
    const dup = await create([
      { custom_id: 'd', params: params('x') },
      { custom_id: 'd', params: params('y') },
    ]);
    expect(dup?.message).toMatch(/unique/);
    expect(await create([])).toBeInstanceOf(BadRequestError);
    // A field the params' schema does not permit refuses the whole batch at create, naming its index;
    // the same request without it is accepted.
    const block = (extra: Record<string, unknown>) => ({
      ...params('x'),
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', ...extra }] }],
    });
    const refused = await create([
      { custom_id: 'ok', params: params('x') },
      { custom_id: 'bad', params: block({ bogus: 1 }) },
    ]);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect(refused?.error).toMatchObject({
      error: {
        type: 'invalid_request_error',
        message: 'requests.1.params.messages.0.content.0.text.bogus: Extra inputs are not permitted',
      },
    });
    expect(await create([{ custom_id: 'fine', params: block({}) }])).toBeNull();
    // The Messages API refuses it too.
    await expect(c.messages.create(block({ bogus: 1 }) as never)).rejects.toBeInstanceOf(BadRequestError);
    await expect(c.messages.batches.retrieve('msgbatch_nope')).rejects.toBeInstanceOf(NotFoundError);
    const b = await c.messages.batches.create({ requests: [{ custom_id: 'a', params: params('x') }] });
    const early = await fetch(`${sim.url}/v1/messages/batches/${b.id}/results`, {
      headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
    });
    expect(early.status).toBe(400);
    expect(await early.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it('options: promptq simulate flags, and bad values named', async () => {
    expect(
      parseSimulateArgs(['--batch-seconds', '2.5', '--batch-errors', '0.1', '--batch-expiry=0.05']),
    ).toMatchObject({
      batches: { processingSeconds: 2.5, errorRate: 0.1, expiryRate: 0.05 },
    });
    await expect(startSimulator({ batches: { errorRate: 2 } })).rejects.toThrow(SimulatorOptionError);
    await expect(startSimulator({ batches: { maxRequests: 0 } })).rejects.toThrow(/batches\.maxRequests/);
  });
});
