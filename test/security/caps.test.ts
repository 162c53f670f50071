/**
 * Caps from both sides: at each cap a body is accepted, one past it refused (a test that only
 * sends huge bodies passes whatever the cap is). And deep nesting costs little: it is refused from
 * the raw bytes, before JSON.parse builds it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxRawDepth } from '../../src/ops/http/depth-guard.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';

const job = { model: 'claude-haiku-4-5', max_tokens: 8 };
/** A value nested `n` levels deep. */
const nested = (n: number): unknown => (n <= 1 ? {} : { a: nested(n - 1) });
const deepText = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('caps, from both sides', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ parts: { worker: false } });
  });
  afterAll(() => s?.close());

  it('1000 messages accepted, 1001 refused', async () => {
    const msgs = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: 'x' }));
    expect((await post(`${s.url}/v1/jobs`, { ...job, messages: msgs(999).concat(msgs(1)) })).status).toBe(
      202,
    );
    const r = await post(`${s.url}/v1/jobs`, { ...job, messages: msgs(1001) });
    expect(r.status).toBe(400);
    expect(r.body.error?.message).toMatch(/^messages: .*<=1000/);
  });

  it('2,000,000 characters accepted, 2,000,001 refused', async () => {
    expect((await post(`${s.url}/v1/jobs`, { ...job, prompt: 'x'.repeat(2_000_000) })).status).toBe(202);
    const r = await post(`${s.url}/v1/jobs`, { ...job, prompt: 'x'.repeat(2_000_001) });
    expect(r.status).toBe(400);
    expect(r.body.error?.message).toMatch(/^prompt: string longer than/);
  });

  it('nesting: 32 levels below the body accepted, 33 refused naming the field', async () => {
    // A content block's own fields are forwarded: free-form, so only the depth cap applies. The
    // block is 4 levels below the body (messages, 0, content, 0), `x` the 5th: the innermost value
    // of nested(n) is 4 + n levels down.
    const at = (n: number) =>
      post(`${s.url}/v1/jobs`, {
        ...job,
        messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', x: nested(n) }] }],
      });
    expect((await at(28)).status).toBe(202);
    const r = await at(29);
    expect(r.status).toBe(400);
    expect(r.body.error?.message).toBe(
      `messages.0.content.0.x${'.a'.repeat(28)}: nested more than 32 levels deep`,
    );
  });

  it('body size: exactly 4 MB (4,194,304 bytes) accepted, one byte more a 413', async () => {
    // A valid job of exactly `bytes` bytes: three messages (each string within its own cap), the
    // last one padded.
    const sized = (bytes: number) => {
      const body = (pad: number) =>
        JSON.stringify({
          ...job,
          messages: [
            { role: 'user', content: 'a'.repeat(2_000_000) },
            { role: 'assistant', content: 'b'.repeat(2_000_000) },
            { role: 'user', content: 'c'.repeat(pad) },
          ],
        });
      const text = body(bytes - Buffer.byteLength(body(0)));
      expect(Buffer.byteLength(text)).toBe(bytes);
      return text;
    };
    const limit = 4 * 1024 * 1024;
    expect(s.config.http.bodyLimit).toBe('4mb');
    const ok = await post(`${s.url}/v1/jobs`, sized(limit));
    expect(ok.status).toBe(202);
    const over = await post(`${s.url}/v1/jobs`, sized(limit + 1));
    expect(over.status).toBe(413);
    expect(over.body.error?.type).toBe('payload_too_large');
  });

  it('a 1000-job batch accepted, 1001 refused', async () => {
    const jobs = (n: number) => Array.from({ length: n }, (_, i) => ({ ...job, prompt: `b${i}` }));
    const a = await post(`${s.url}/v1/jobs/batch`, { jobs: jobs(1000) });
    expect(a.status).toBe(202);
    expect((a.body.ids as string[]).length).toBe(1000);
    const r = await post(`${s.url}/v1/jobs/batch`, { jobs: jobs(1001) });
    expect(r.status).toBe(400);
    expect(r.body.error?.message).toMatch(/^jobs: at most 1000 jobs per batch/);
  });

  it('raw nesting: refused before parsing past the guard, and ten 4 MB bracket bodies cost little', async () => {
    const at = await post(`${s.url}/v1/jobs`, deepText(maxRawDepth));
    // Within the guard: parsed, then judged by the validator (a JSON array is not a job).
    expect(at.status).toBe(400);
    expect(at.body.error?.message).not.toMatch(/^body: nested more than/);
    const past = await post(`${s.url}/v1/jobs`, deepText(maxRawDepth + 1));
    expect(past.status).toBe(400);
    expect(past.body.error?.message).toBe(`body: nested more than ${maxRawDepth} levels deep`);
    // Brackets inside strings are text, not nesting.
    expect((await post(`${s.url}/v1/jobs`, { ...job, prompt: '['.repeat(10_000) })).status).toBe(202);

    const huge = '['.repeat(2_000_000) + ']'.repeat(2_000_000);
    const t0 = Date.now();
    const health = (async () => {
      await new Promise((r) => setTimeout(r, 50));
      const h0 = Date.now();
      await get(`${s.url}/healthz`);
      return Date.now() - h0;
    })();
    const rs = await Promise.all(Array.from({ length: 10 }, () => post(`${s.url}/v1/jobs`, huge)));
    for (const r of rs) expect(r.status).toBe(400);
    expect(await health).toBeLessThan(1000);
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 60_000);
});

describe('/metrics on a lone worker', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({
      parts: { api: false },
      env: { PROMPTQ_AUTH_TOKEN: 'worker-api-token-123', PROMPTQ_METRICS_TOKEN: 'worker-metrics-token-456' },
    });
  });
  afterAll(() => s?.close());

  it('needs a token; the metrics token and the API token open it; health stays open', async () => {
    expect((await get(`${s.url}/metrics`)).status).toBe(401);
    expect((await get(`${s.url}/metrics`, { authorization: 'Bearer wrong-token-000' })).status).toBe(401);
    for (const t of ['worker-api-token-123', 'worker-metrics-token-456']) {
      const r = await get(`${s.url}/metrics`, { authorization: `Bearer ${t}` });
      expect(r.status).toBe(200);
      expect(r.body.text).toContain('promptq_jobs_total');
    }
    expect((await get(`${s.url}/healthz`)).status).toBe(200);
    expect((await get(`${s.url}/readyz`)).status).toBe(200);
    // A lone worker serves no API.
    expect((await get(`${s.url}/v1/jobs/x`, { authorization: 'Bearer worker-api-token-123' })).status).toBe(
      404,
    );
  });
});
