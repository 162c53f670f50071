import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServedResponse } from '../../packages/anthropic-simulator/src/index.js';
import { bullJobId } from '../../src/store/keys.js';
import { get, post, type Stack, startStack, testApiKey } from '../helpers/stack.js';

const body = {
  model: 'claude-haiku-4-5',
  max_tokens: 200,
  prompt: 'Write a haiku about the sea',
  tenant_id: 'acme',
};

async function submit(s: Stack, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await post(`${s.url}/v1/jobs`, { ...body, ...extra });
  expect(r.status).toBe(202);
  return r.body.id as string;
}

async function finished(s: Stack, id: string, seconds = 20) {
  const r = await get(`${s.url}/v1/jobs/${id}?wait=${seconds}`);
  expect(r.status).toBe(200);
  expect(['completed', 'failed']).toContain(r.body.state);
  return r.body;
}

describe('worker: a job through the simulator', () => {
  let s: Stack;
  afterEach(() => s?.close());

  it('completes with the message, and a record that matches what the simulator served', async () => {
    const served: ServedResponse[] = [];
    s = await startStack({ sim: { ttftMs: 30, onServed: (r) => served.push(r) } });
    const before = Date.now();
    const id = await submit(s);
    const job = await finished(s, id);
    const after = Date.now();
    expect(job.state).toBe('completed');
    expect(job.error).toBeNull();
    expect(served).toHaveLength(1);
    const sv = served[0]!;
    const msg = job.result;
    expect(msg).toMatchObject({ type: 'message', role: 'assistant', model: body.model });
    expect(msg.content[0].type).toBe('text');
    expect(msg.content[0].text.length).toBeGreaterThan(0);
    expect(msg.usage).toMatchObject({
      input_tokens: sv.usage.input_tokens,
      output_tokens: sv.usage.output_tokens,
    });

    const r = job.record;
    expect(r.model).toBe(body.model);
    expect(r.tenant_id).toBe('acme');
    expect(r.max_tokens).toBe(200);
    expect(r.input_tokens).toBe(sv.usage.input_tokens);
    expect(r.output_tokens).toBe(sv.usage.output_tokens);
    expect(r.cache_creation_input_tokens).toBe(sv.usage.cache_creation_input_tokens);
    expect(r.cache_read_input_tokens).toBe(sv.usage.cache_read_input_tokens);
    expect(r.request_id).toBe(sv.requestId);
    expect(r.status_code).toBe(200);
    expect(r.error_type).toBeNull();
    expect(r.attempts).toBe(1);
    expect(r.retries).toEqual({});
    expect(r.rate_limited).toBe(0);
    // Timestamps in order and inside the test's own window.
    const t = (x: string) => Date.parse(x);
    expect(t(r.enqueued_at)).toBeGreaterThanOrEqual(before - 5);
    expect(t(r.enqueued_at)).toBeLessThanOrEqual(t(r.started_at));
    expect(t(r.started_at)).toBeLessThanOrEqual(t(r.finished_at));
    expect(t(r.finished_at)).toBeLessThanOrEqual(after);
    expect(r.queue_wait_ms).toBe(t(r.started_at) - t(r.enqueued_at));
    expect(r.total_ms).toBe(t(r.finished_at) - t(r.enqueued_at));
    // The simulator waits ttftMs before the first token: the measured TTFT cannot be shorter.
    expect(r.ttft_ms).toBeGreaterThanOrEqual(30);
    expect(r.latency_ms).toBeGreaterThanOrEqual(r.ttft_ms);
    expect(r.latency_ms).toBeLessThanOrEqual(r.total_ms);
    // Haiku 4.5: $1 / $5 per million tokens.
    expect(r.cost_usd).toBeCloseTo((r.input_tokens * 1 + r.output_tokens * 5) / 1e6, 9);
    // The tenant went to the API as metadata.user_id.
    expect(sv.userId).toBe('acme');
    expect(sv.stream).toBe(true);

    // One structured log line for the attempt, without the prompt text or the key.
    const lines = s.logs.filter((l) => l.msg === 'api_attempt' && l.job_id === id);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      model: body.model,
      tenant_id: 'acme',
      max_tokens: 200,
      input_tokens: r.input_tokens,
      output_tokens: r.output_tokens,
      status_code: 200,
      error_type: null,
      outcome: 'success',
      latency_ms: r.latency_ms,
    });
    expect(typeof lines[0]!.ts).toBe('string');
    const all = s.rawLogs.join('\n');
    expect(all).not.toContain(body.prompt);
    expect(all).not.toContain(testApiKey);
  });

  it('counts tokens, cost, requests and jobs in /metrics', async () => {
    s = await startStack();
    const ids = await Promise.all([submit(s), submit(s, { tenant_id: 'beta' }), submit(s)]);
    const jobs = await Promise.all(ids.map((id) => finished(s, id)));
    const m = (await get(`${s.url}/metrics`)).body.text as string;
    const value = (re: RegExp) => Number(re.exec(m)?.[1] ?? Number.NaN);
    const sum = (f: (r: any) => number, tenant?: string) =>
      jobs.filter((j) => !tenant || j.record.tenant_id === tenant).reduce((a, j) => a + f(j.record), 0);
    expect(value(/promptq_tokens_total\{model="claude-haiku-4-5",tenant="acme",type="input"\} (\d+)/)).toBe(
      sum((r) => r.input_tokens, 'acme'),
    );
    expect(value(/promptq_tokens_total\{model="claude-haiku-4-5",tenant="beta",type="output"\} (\d+)/)).toBe(
      sum((r) => r.output_tokens, 'beta'),
    );
    const costParts = [
      ...m.matchAll(
        /promptq_cost_usd_total\{model="claude-haiku-4-5",tenant="acme",type="\w+",route="live"\} ([\d.e-]+)/g,
      ),
    ];
    expect(costParts.length).toBeGreaterThanOrEqual(2);
    expect(costParts.reduce((a, x) => a + Number(x[1]), 0)).toBeCloseTo(
      sum((r) => r.cost_usd, 'acme'),
      9,
    );
    expect(
      value(/promptq_requests_total\{model="claude-haiku-4-5",status_code="200",outcome="success"\} (\d+)/),
    ).toBe(3);
    expect(value(/promptq_jobs_total\{status="completed"\} (\d+)/)).toBe(3);
    expect(
      value(/promptq_request_duration_seconds_count\{model="claude-haiku-4-5",outcome="success"\} (\d+)/),
    ).toBe(3);
    expect(m).toMatch(/promptq_ratelimit_remaining\{resource="requests"\} \d+/);
    expect(value(/promptq_workers\{queue="[^"]+"\} (\d+)/)).toBe(1);
  });
});

describe('worker: retry decisions against the simulator', () => {
  let s: Stack;
  afterEach(() => s?.close());

  it('529, 500, a dropped connection and a mid-stream overload are retried, then the job completes', async () => {
    s = await startStack();
    s.sim.script([{ status: 529 }, { status: 500 }, { drop: true }, { midstreamError: true }]);
    const id = await submit(s);
    const job = await finished(s, id, 60);
    expect(job.state).toBe('completed');
    expect(job.record.attempts).toBe(5);
    expect(job.record.retries).toEqual({ overloaded: 2, server_error: 1, network_error: 1 });
    expect(job.record.status_code).toBe(200);
    expect(job.record.error_type).toBeNull();
    const m = (await get(`${s.url}/metrics`)).body.text as string;
    expect(m).toContain(
      'promptq_requests_total{model="claude-haiku-4-5",status_code="529",outcome="overloaded"} 1',
    );
    expect(m).toContain(
      'promptq_requests_total{model="claude-haiku-4-5",status_code="none",outcome="network_error"} 1',
    );
    expect(m).toContain('promptq_retries_total{model="claude-haiku-4-5",reason="overloaded"} 2');
  });

  it('a 429 pauses the whole model group until retry-after, and costs no attempt', async () => {
    const served: ServedResponse[] = [];
    s = await startStack({ sim: { onServed: (r) => served.push(r) } });
    s.sim.script([{ status: 429, retryAfter: 1 }]);
    const t0 = Date.now();
    const [a, b] = await Promise.all([submit(s), submit(s)]);
    const [ja, jb] = await Promise.all([finished(s, a), finished(s, b)]);
    expect(ja.state).toBe('completed');
    expect(jb.state).toBe('completed');
    // Whichever job met the 429, nothing of the group was admitted until the pause had passed.
    expect(served).toHaveLength(2);
    for (const r of served) expect(r.admittedAt).toBeGreaterThanOrEqual(t0 + 1000);
    const limited = [ja, jb].find((j) => j.record.rate_limited === 1);
    expect(limited?.record).toMatchObject({ attempts: 2, rate_limited: 1, retries: { rate_limited: 1 } });
    const pause = s.logs.find((l) => l.msg === 'rate limit: pausing model group');
    expect(pause).toMatchObject({ group: 'haiku', reason: 'rate_limited' });
    expect(Number(pause?.pause_ms)).toBeGreaterThan(500);
    expect(Number(pause?.pause_ms)).toBeLessThanOrEqual(1000);
  });

  it.each([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [413, 'request_too_large'],
  ])('%i fails at once with the API message', async (status, type) => {
    s = await startStack();
    s.sim.script([{ status: status as 400, type, message: `the api says no (${status})` }]);
    const id = await submit(s);
    const job = await finished(s, id);
    expect(job.state).toBe('failed');
    expect(job.record).toMatchObject({ attempts: 1, status_code: status, error_type: type, retries: {} });
    expect(job.error.type).toBe(type);
    expect(job.error.message).toContain(`the api says no (${status})`);
    expect(s.sim.stats().requests).toBe(1);
  });

  it('a spend-limit 429 pauses the queue (loudly) and keeps the job; resume finishes it', async () => {
    s = await startStack();
    s.sim.script([
      { status: 429, errorCode: 'enforced_spend_limit_reached', message: 'spend limit reached' },
    ]);
    const id = await submit(s);
    for (let i = 0; i < 200 && !(await s.bull.isPaused()); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await s.bull.isPaused()).toBe(true);
    const held = await get(`${s.url}/v1/jobs/${id}?wait=1.5`);
    expect(['waiting', 'delayed']).toContain(held.body.state);
    expect(held.body.record).toMatchObject({
      attempts: 1,
      rate_limited: 1,
      status_code: 429,
      error_type: 'rate_limit_error',
    });
    expect(s.sim.stats().requests).toBe(1);
    const loud = s.logs.find((l) => l.level === 'error' && String(l.msg).includes('SPEND LIMIT'));
    expect(loud).toMatchObject({ job_id: id, error_code: 'enforced_spend_limit_reached' });
    expect(String(loud?.msg)).toContain('promptq resume');

    await s.bull.resume();
    const job = await finished(s, id);
    expect(job.state).toBe('completed');
    expect(job.record.attempts).toBe(2);
    const m = (await get(`${s.url}/metrics`)).body.text as string;
    expect(m).toContain('promptq_limiter_pauses_total{group="queue",reason="spend_limit"} 1');
  });

  it('429s do not spend attempts, but are bounded', async () => {
    s = await startStack({ env: { PROMPTQ_MAX_ATTEMPTS: '1', PROMPTQ_MAX_RATE_LIMITED: '2' } });
    s.sim.script([
      { status: 429, retryAfter: 0 },
      { status: 429, retryAfter: 0 },
    ]);
    const ok = await finished(s, await submit(s));
    expect(ok.state).toBe('completed');
    expect(ok.record).toMatchObject({ attempts: 3, rate_limited: 2, retries: { rate_limited: 2 } });
    s.sim.script([
      { status: 429, retryAfter: 0 },
      { status: 429, retryAfter: 0 },
      { status: 429, retryAfter: 0 },
    ]);
    const bad = await finished(s, await submit(s));
    expect(bad.state).toBe('failed');
    expect(bad.record).toMatchObject({ attempts: 3, rate_limited: 3 });
    expect(bad.error.message).toMatch(/rate limited 3 times \(the bound is 2\)/);
  });

  it('a hanging request times out and is retried; attempts never exceed the bound', async () => {
    s = await startStack({ env: { PROMPTQ_REQUEST_TIMEOUT_MS: '300', PROMPTQ_MAX_ATTEMPTS: '3' } });
    s.sim.script([{ hang: true }, { hang: true }, { hang: true }, { hang: true }]);
    const id = await submit(s);
    const job = await finished(s, id, 30);
    expect(job.state).toBe('failed');
    expect(job.record.attempts).toBe(3);
    expect(job.record.retries).toEqual({ timeout: 2 });
    expect(job.record.error_type).toBe('timeout_error');
    expect(job.error.message).toMatch(/gave up after 3 attempts: timeout_error/);
    expect(s.sim.stats().requests).toBe(3);
  });
});

describe('worker: jobs added straight to BullMQ', () => {
  let s: Stack;
  afterEach(() => s?.close());

  it('a valid job from a plain BullMQ client (prompt form, no attempts) completes', async () => {
    s = await startStack();
    await s.bull.add(
      'x',
      { model: 'claude-haiku-4-5', max_tokens: 20, prompt: 'hello' },
      { jobId: 'raw-ok' },
    );
    const job = await finished(s, 'raw-ok');
    expect(job.state).toBe('completed');
    expect(job.record.attempts).toBe(1);
  });

  it('an invalid job fails at once, unretried, naming the field', async () => {
    s = await startStack();
    await s.bull.add(
      'x',
      { model: 'claude-haiku-4-5', max_tokens: 'many', prompt: 'hello' },
      { jobId: 'raw-bad', attempts: 5 },
    );
    const job = await finished(s, 'raw-bad');
    expect(job.state).toBe('failed');
    expect(job.error.message).toBe('invalid job: max_tokens: required: an integer from 1 to 128000');
    expect(job.record.error_type).toBe('invalid_job');
    expect(job.record.attempts).toBe(0);
    expect(s.sim.stats().requests).toBe(0);
    const raw = await s.bull.getJob('raw-bad');
    expect(raw?.attemptsMade).toBe(1);
  });
});

describe('worker: graceful shutdown', () => {
  it('finishes the job in flight, takes no new one, then stops', async () => {
    const s = await startStack({ sim: { ttftMs: 800 }, env: { PROMPTQ_CONCURRENCY: '1' } });
    try {
      const first = await submit(s);
      for (let i = 0; i < 100 && (await s.bull.getJobState(bullJobId(first))) !== 'active'; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await s.bull.getJobState(bullJobId(first))).toBe('active');
      const second = await submit(s);
      await s.svc.worker!.close();
      expect(await s.bull.getJobState(bullJobId(first))).toBe('completed');
      expect(['waiting', 'prioritized']).toContain(await s.bull.getJobState(bullJobId(second)));
      expect(s.sim.stats().requests).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('after the shutdown timeout, returns the job in flight to the queue without spending an attempt', async () => {
    const s = await startStack({
      sim: { ttftMs: 5000 },
      env: { PROMPTQ_CONCURRENCY: '1', PROMPTQ_SHUTDOWN_TIMEOUT_MS: '200' },
    });
    try {
      const id = await submit(s);
      for (let i = 0; i < 100 && (await s.bull.getJobState(bullJobId(id))) !== 'active'; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const t0 = Date.now();
      await s.svc.worker!.close();
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(['waiting', 'prioritized', 'delayed']).toContain(await s.bull.getJobState(bullJobId(id)));
      const view = await get(`${s.url}/v1/jobs/${id}`);
      expect(view.body.record.attempts).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('reads its settings from the configuration: PROMPTQ_MAX_MODEL_LABELS bounds the unpriced-model warnings', async () => {
    // A price list with no model: every call is unpriced.
    const dir = mkdtempSync(join(tmpdir(), 'promptq-prices-'));
    const prices = join(dir, 'prices.json');
    writeFileSync(prices, JSON.stringify({ models: {} }));
    const warned = async (maxModelLabels: string) => {
      const s = await startStack({
        env: { PROMPTQ_PRICING_FILE: prices, PROMPTQ_MAX_MODEL_LABELS: maxModelLabels },
      });
      try {
        for (const model of ['claude-haiku-4-5', 'claude-sonnet-4-5'])
          expect((await finished(s, await submit(s, { model }))).state).toBe('completed');
        return {
          named: s.logs
            .filter((l) => String(l.msg).startsWith('no known price for model'))
            .map((l) => l.model),
          summary: s.logs.filter((l) => String(l.msg).startsWith('more than 1 models without a known price')),
        };
      } finally {
        await s.close();
      }
    };
    try {
      // At the cap: the first model named, the second summed up in one line.
      expect(await warned('1')).toMatchObject({ named: ['claude-haiku-4-5'], summary: [{}] });
      // Control: with room for both, both are named.
      expect(await warned('2')).toMatchObject({
        named: ['claude-haiku-4-5', 'claude-sonnet-4-5'],
        summary: [],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
