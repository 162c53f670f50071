/**
 * A budget cannot be escaped (issue 23, items 1-4): for each way a tenant found past its budget, one
 * tenant with a tiny budget attempts it, and the spend is judged by what the simulator served to
 * that tenant, priced here from prices.json (test/budget/served.ts) — not by promptq's records. The
 * same jobs from a tenant with no budget are the control: the simulator serves them, past the
 * budget, so each escape is real.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantStore } from '../../src/store/tenant-store.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';
import { listPrice, servedLedger } from './served.js';

const ledger = servedLedger();
let s: Stack;

/** Enqueue the bodies for `tenant`, wait for each to finish; their views. */
async function run(tenant: string, bodies: Array<Record<string, unknown>>) {
  const ids: string[] = [];
  for (const b of bodies) {
    const r = await post(`${s.url}/v1/jobs`, { ...b, tenant_id: tenant });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    ids.push(r.body.id as string);
  }
  return Promise.all(
    ids.map(async (id) => {
      const v = (await get(`${s.url}/v1/jobs/${id}?wait=60`)).body;
      expect(['completed', 'failed'], JSON.stringify({ ...v, request: undefined })).toContain(v.state);
      return v;
    }),
  );
}

/** A tenant with `dailyUsd` that fails over budget, and a name for the same jobs' control tenant. */
async function tenants(name: string, dailyUsd: number) {
  await new TenantStore(s.redis, s.svc.queue.keys).add(`${name}-capped`, { dailyUsd, onExceed: 'fail' });
  return { capped: `${name}-capped`, free: `${name}-free` };
}

beforeAll(async () => {
  s = await startStack({
    sim: {
      onServed: ledger.onServed,
      // Answers run to max_tokens, fast: the real cost is the worst case's output.
      output: { minFraction: 1, maxFraction: 1, cap: 100_000 },
      msPerToken: 0.002,
      // Room for every test's calls at once: the budget, not the rate limits, is under test.
      limits: { rpm: 100_000, itpm: 100_000_000, otpm: 100_000_000 },
      // An organization with Priority Tier capacity: `auto` requests are answered at `priority`.
      priorityTier: true,
    },
  });
}, 60_000);
afterAll(() => s?.close());

describe('a budget cannot be escaped (the simulator served, priced independently)', () => {
  it('fallback models: the hold covers the dearest of model + fallback_models; spend and metrics are the served model', async () => {
    const budget = 1;
    const t = await tenants('fallback', budget);
    // A retired model (404, priced at $15/M output) falls back to Opus 4.1 ($75/M): 32,000 output
    // tokens cost $2.40 there, $0.48 on the model named.
    const job = {
      model: 'claude-3-5-sonnet-20240620',
      fallback_models: ['claude-opus-4-1'],
      max_tokens: 32_000,
    };
    const bodies = [job, job, job].map((b, i) => ({ ...b, prompt: `fallback ${i}` }));
    const control = await run(t.free, bodies.slice(0, 1));
    expect(control[0]!.record.served_model).toBe('claude-opus-4-1');
    expect(ledger.spendOf(t.free)).toBeGreaterThan(budget);

    const views = await run(t.capped, bodies);
    expect(ledger.spendOf(t.capped)).toBeLessThanOrEqual(budget);
    expect(views.map((v) => v.record.error_type)).toEqual([
      'budget_exceeded',
      'budget_exceeded',
      'budget_exceeded',
    ]);
    expect(views[0]!.error.message).toMatch(/this call up to \$2\.4/);

    // A budget that fits one: it runs on the fallback, charged and counted as Opus 4.1.
    const roomy = await tenants('fallback-roomy', 3);
    const done = (await run(roomy.capped, bodies.slice(0, 1)))[0]!;
    expect(done.state).toBe('completed');
    expect(ledger.spendOf(roomy.capped)).toBeLessThanOrEqual(3);
    const served = ledger.to(roomy.capped).at(-1)!;
    expect(done.record.cost_usd).toBeCloseTo(listPrice(served), 9);
    const metrics = (await get(`${s.url}/metrics`)).body.text as string;
    expect(metrics).toMatch(
      /promptq_cost_usd_total\{model="claude-opus-4-1",tenant="fallback-roomy-capped",type="output",route="live"\} 2\.4/,
    );
    expect(metrics).not.toMatch(
      /promptq_cost_usd_total\{model="claude-3-5-sonnet-20240620",tenant="fallback-roomy-capped"/,
    );
  }, 120_000);

  it('unpriced models: a budgeted tenant is refused, naming the model; the same job runs unbudgeted', async () => {
    const t = await tenants('unpriced', 0.05);
    const job = { model: 'claude-unlisted-9', max_tokens: 2_000, prompt: 'hello' };
    await run(t.free, [job]);
    expect(ledger.to(t.free)).toHaveLength(1);
    expect(ledger.to(t.free)[0]!.usage.output_tokens).toBe(2_000);

    const views = await run(t.capped, [
      job,
      { ...job, model: 'claude-haiku-4-5', fallback_models: ['claude-unlisted-9'] },
    ]);
    expect(ledger.to(t.capped)).toHaveLength(0);
    for (const v of views) {
      expect(v.state).toBe('failed');
      expect(v.record.error_type).toBe('budget_unpriced');
      expect(v.error.message).toMatch(/model "claude-unlisted-9" has no known price/);
    }
  }, 120_000);

  it('priority tier: a priority answer is priced and charged; no "no known price" line for a priced model', async () => {
    const budget = 0.05;
    const t = await tenants('priority', budget);
    // Each call's worst case is about $0.01 (2,000 output tokens at $5/M): about five fit.
    const bodies = Array.from({ length: 12 }, (_, i) => ({
      model: 'claude-haiku-4-5',
      max_tokens: 2_000,
      prompt: `p ${i}`,
    }));
    await run(t.free, bodies);
    expect(ledger.to(t.free).every((x) => x.serviceTier === 'priority')).toBe(true);
    expect(ledger.spendOf(t.free)).toBeGreaterThan(budget);

    const views = await run(t.capped, bodies);
    expect(ledger.spendOf(t.capped)).toBeLessThanOrEqual(budget);
    const done = views.filter((v) => v.state === 'completed');
    expect(done.length).toBeGreaterThan(0);
    for (const v of done) {
      expect(v.record.service_tier).toBe('priority');
      expect(v.record.cost_usd).not.toBeNull();
    }
    expect(
      s.logs.filter((l) => l.msg?.toString().startsWith('no known price') && l.model === 'claude-haiku-4-5'),
    ).toEqual([]);
  }, 120_000);

  // A 120-page PDF: the simulator bills 1,500 tokens a page (180,000 tokens, $0.18 on Haiku 4.5).
  const pdf = Buffer.from(`%PDF-1.4\n${'<< /Type /Page >>\n'.repeat(120)}%%EOF`).toString('base64');
  const document = {
    type: 'document',
    source: { type: 'base64', media_type: 'application/pdf', data: pdf },
  };
  // A web search: $0.01 a use, on a call whose tokens cost a twentieth of that.
  const search = {
    model: 'claude-haiku-4-5',
    max_tokens: 100,
    prompt: 'search',
    tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 1 }],
  };
  it.each([
    [
      'a PDF, by its pages',
      { model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: [document] }] },
      0.05,
    ],
    // 100,000 characters the simulator bills one token each (a letter, a dot): $0.10 of input.
    [
      'dense punctuation, by its bytes',
      { model: 'claude-haiku-4-5', max_tokens: 50, prompt: 'a.'.repeat(50_000) },
      0.08,
    ],
    ['web searches, every allowed use', search, 0.005],
  ] as const)(
    'estimates are upper bounds: %s',
    async (name, job, budget) => {
      const t = await tenants(name.split(',')[0]!.replace(/\W+/g, '-'), budget);
      await run(t.free, [job, job]);
      expect(ledger.spendOf(t.free)).toBeGreaterThan(budget);
      await run(t.capped, [job, job]);
      expect(ledger.spendOf(t.capped)).toBeLessThanOrEqual(budget);
    },
    120_000,
  );

  it('a server tool with no max_uses has no worst case: refused for a budgeted tenant', async () => {
    const t = await tenants('unbounded-search', 10);
    const { tools: _bounded, ...rest } = search;
    const unbounded = { ...rest, tools: [{ type: 'web_search_20250305', name: 'web_search' }] };
    // The control: without a budget it runs, and searches.
    await run(t.free, [unbounded]);
    expect(ledger.to(t.free).map((x) => x.serverToolUse?.web_search_requests)).toEqual([1]);
    const v = (await run(t.capped, [unbounded]))[0]!;
    expect(v.record.error_type).toBe('budget_unpriced');
    expect(v.error.message).toMatch(/web_search_20250305" has no max_uses/);
    expect(ledger.to(t.capped)).toHaveLength(0);
  }, 120_000);
});
