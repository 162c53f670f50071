/**
 * A budget's hold before a call is taken at the price of the dearest account that may serve it, so
 * a regional premium (Vertex AI in a region: 1.1 × the API's price) cannot escape a budget. Spend
 * is judged by what the Vertex simulator served to each tenant, priced here (test/budget/served.ts,
 * × 1.1), not by promptq's records. The control tenant without a budget shows the escape is real;
 * the boundary is tested from both sides at the premium's worst case.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../packages/anthropic-simulator/src/index.js';
import { validateJob } from '../../src/core/job.js';
import { defaultJobLimits } from '../../src/core/job-schema.js';
import { worstCaseCost } from '../../src/core/worst-case.js';
import { PriceTable } from '../../src/providers/anthropic/pricing.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { servedLedger } from '../budget/served.js';
import { get, post, type Stack, startStack } from '../helpers/stack.js';

const saved = { ...process.env };
const gcpServed = servedLedger();
const sims: Record<string, Simulator> = {};
let s: Stack;
// Answers run to max_tokens: the real cost is the worst case's output.
const full = { output: { minFraction: 1, maxFraction: 1, cap: 100_000 }, msPerToken: 0.002 };
const body = { model: 'claude-sonnet-4-5', max_tokens: 4000, prompt: 'hi' };

beforeAll(async () => {
  const key = `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
  const token = `ya29.${randomBytes(24).toString('base64url')}`;
  sims.direct = await startSimulator({ apiKey: key, seed: 21, ...full });
  sims.gcp = await startSimulator({ apiKey: token, seed: 22, onServed: gcpServed.onServed, ...full });
  Object.assign(process.env, { PQ_PREMIUM_KEY: key, PQ_PREMIUM_TOKEN: token });
  const file = join(mkdtempSync(join(tmpdir(), 'promptq-premium-')), 'accounts.json');
  writeFileSync(
    file,
    JSON.stringify({
      accounts: [
        // The first account is at the API's price; the second, a Vertex region, 10% dearer.
        { name: 'direct', provider: 'anthropic', api_key_env: 'PQ_PREMIUM_KEY', base_url: sims.direct.url },
        {
          name: 'gcp',
          provider: 'vertex',
          project: 'promptq-sim',
          region: 'us-east5',
          base_url: `${sims.gcp.url}/v1`,
          access_token_env: 'PQ_PREMIUM_TOKEN',
        },
      ],
    }),
  );
  s = await startStack({ env: { PROMPTQ_ACCOUNTS: file, PROMPTQ_MAX_ATTEMPTS: '1' } });
}, 60_000);
afterAll(async () => {
  await s?.close();
  for (const sim of Object.values(sims)) await sim.close();
  process.env = saved;
});

/** One job for `tenant` (with `dailyUsd`, failing over it, or none), waited for. */
async function runFor(tenant: string, dailyUsd: number | undefined, extra: Record<string, unknown>) {
  if (dailyUsd !== undefined)
    await new TenantStore(s.redis, s.svc.queue.keys).add(tenant, { dailyUsd, onExceed: 'fail' });
  const r = await post(`${s.url}/v1/jobs`, { ...body, ...extra, tenant_id: tenant });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return (await get(`${s.url}/v1/jobs/${r.body.id}?wait=30`)).body;
}

describe('budget holds at the dearest eligible account', () => {
  // The worst case at the API's price (the Anthropic price list alone), then with the premium.
  const apiWorst = worstCaseCost(validateJob(body, defaultJobLimits).request, new PriceTable());
  if (apiWorst.kind !== 'priced') throw new Error('unpriced');
  const premiumWorst = apiWorst.usd * 1.1;
  const between = apiWorst.usd * 1.05;

  it('a Vertex-region call cannot escape a budget the API price would fit', async () => {
    const capped = await runFor('premium-capped', between, { account: 'gcp' });
    const free = await runFor('premium-free', undefined, { account: 'gcp' });
    expect(free.state).toBe('completed');
    // Control: served at the premium, the call costs more than the budget (the escape is real)...
    expect(gcpServed.spendOf('premium-free') * 1.1).toBeGreaterThan(between);
    // ...so the capped tenant's call is refused before it is made: nothing served to it.
    expect(capped.state).toBe('failed');
    expect(gcpServed.to('premium-capped')).toHaveLength(0);
    // Control: the same budget fits the same call on the account at the API's price.
    const direct = await runFor('premium-direct', between, { account: 'direct' });
    expect(direct.state).toBe('completed');
  });

  it('a job either account may serve is held at the dearer', async () => {
    const any = await runFor('premium-any', between, {});
    expect(any.state).toBe('failed');
    expect(gcpServed.to('premium-any')).toHaveLength(0);
  });

  it("the boundary: just above the premium's worst case runs, just below does not", async () => {
    const above = await runFor('premium-above', premiumWorst + 1e-5, { account: 'gcp' });
    expect(above.state).toBe('completed');
    expect(gcpServed.spendOf('premium-above') * 1.1).toBeLessThanOrEqual(premiumWorst + 1e-5);
    const below = await runFor('premium-below', premiumWorst - 1e-5, { account: 'gcp' });
    expect(below.state).toBe('failed');
    expect(gcpServed.to('premium-below')).toHaveLength(0);
  });
});
