import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, type Stack, startStack } from '../helpers/stack.js';
import { keysMatching, testKeys } from '../helpers/topology.js';
import { type HostileCase, hostileBatches, hostileJobs } from './hostile-bodies.js';

/** Send raw text; return status and parsed JSON (or the text when it is not JSON). */
async function send(url: string, text: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: text,
  });
  const raw = await res.text();
  let body: any;
  try {
    body = JSON.parse(raw);
  } catch {
    body = { raw };
  }
  return { status: res.status, body };
}

/** Every answer a 4xx with a JSON error whose message says what is wrong. */
function expectClearRefusal(c: HostileCase, r: { status: number; body: any }) {
  const where = `${c.kind}: ${c.text.slice(0, 120)}`;
  expect(r.status, where).toBeGreaterThanOrEqual(400);
  expect(r.status, where).toBeLessThan(500);
  expect(typeof r.body.error?.type, where).toBe('string');
  expect(typeof r.body.error?.message, where).toBe('string');
  if (r.body.error.type === 'invalid_request') {
    // "field: reason" — the message names the bad field (quoted when the key itself is odd).
    expect(r.body.error.message, where).toMatch(/^([A-Za-z0-9_.-]+|"(?:[^"\\]|\\.)*"): \S/);
  }
}

async function runAll(url: string, cases: HostileCase[], parallel = 8) {
  const kinds = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const r = await send(url, c.text);
        expectClearRefusal(c, r);
        kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
      }
    }),
  );
  return kinds;
}

describe('hostile input: thousands of generated bodies', () => {
  let s: Stack;
  beforeAll(async () => {
    // API only: a worker would hide a wrongly enqueued job by running it.
    s = await startStack({ parts: { worker: false } });
  });
  afterAll(() => s?.close());

  it('POST /v1/jobs: every generated hostile body gets a clear 4xx', async () => {
    const kinds = await runAll(`${s.url}/v1/jobs`, hostileJobs(2000, 42, s.config.jobs.limits.maxTokens));
    // The generator covered every family of hostile input.
    expect(kinds.size).toBeGreaterThanOrEqual(14);
  }, 120_000);

  it('POST /v1/jobs/batch: one bad job, a wrong shape or too many jobs refuses the whole batch', async () => {
    const kinds = await runAll(
      `${s.url}/v1/jobs/batch`,
      hostileBatches(1000, 7, s.config.jobs.limits.maxTokens),
    );
    expect(kinds.size).toBeGreaterThanOrEqual(10);
  }, 120_000);

  it('huge strings and bodies over the size limit are refused with 400 / 413', async () => {
    const huge = 'x'.repeat(2_000_001);
    const r1 = await send(`${s.url}/v1/jobs`, JSON.stringify({ model: 'm', max_tokens: 5, prompt: huge }));
    expectClearRefusal({ kind: 'huge string', text: '' }, r1);
    expect(r1.body.error.message).toMatch(/^prompt: string longer than/);
    const over = JSON.stringify({ model: 'm', max_tokens: 5, prompt: 'y'.repeat(5 * 1024 * 1024) });
    for (const path of ['/v1/jobs', '/v1/jobs/batch']) {
      const r = await send(`${s.url}${path}`, over);
      expect(r.status).toBe(413);
      expect(r.body.error.type).toBe('payload_too_large');
    }
  });

  it('afterwards: the process is up, nothing was enqueued, no prototype was polluted', async () => {
    expect((await get(`${s.url}/healthz`)).status).toBe(200);
    expect((await get(`${s.url}/readyz`)).status).toBe(200);
    const counts = await s.bull.getJobCounts();
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    const keys = await keysMatching(s.redis, testKeys(s.config.queue).pattern);
    expect(keys.filter((k) => !/:(meta|events|id)$/.test(k))).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A valid job still goes in after all that.
    const ok = await send(
      `${s.url}/v1/jobs`,
      JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, prompt: 'hi' }),
    );
    expect(ok.status).toBe(202);
  });
});
