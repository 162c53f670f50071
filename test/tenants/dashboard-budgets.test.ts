import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reserveBudget, settleBudget } from '../../src/store/budget-store.js';
import { TenantStore } from '../../src/store/tenant-store.js';
import { get, type Stack, startStack } from '../helpers/stack.js';

const chromiumPath = '/usr/bin/chromium';
const onCI = !['', '0', 'false', undefined].includes(process.env.CI);
const admin = 'dash-admin-token-0123456789';

describe('dashboard: spend against budget per tenant, a tenant filter', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ env: { PROMPTQ_AUTH_TOKEN: admin }, parts: { worker: false } });
    const keys = s.svc.queue.keys;
    const store = new TenantStore(s.redis, keys);
    await store.add('acme', { dailyUsd: 4, monthlyUsd: 50 });
    await store.add('globex', { monthlyUsd: 10 });
    const h = await reserveBudget(s.redis, keys, 'acme', 1, { id: 'a', holdMs: 60_000 });
    if (h.kind !== 'held') throw new Error('held');
    await settleBudget(s.redis, keys, h.hold, 1);
  });
  afterAll(() => s.close());

  it('/dashboard/data carries the budgets; ?tenant= narrows them; a tenant token gets nothing', async () => {
    const auth = { authorization: `Bearer ${admin}` };
    const all = await get(`${s.url}/dashboard/data?range=1h`, auth);
    expect(all.body.tenant_names).toEqual(['acme', 'globex']);
    expect(all.body.budgets).toEqual([
      { tenant: 'acme', daily_usd: 4, monthly_usd: 50, spent_usd: { day: 1, month: 1 } },
      { tenant: 'globex', daily_usd: null, monthly_usd: 10, spent_usd: { day: 0, month: 0 } },
    ]);
    const one = await get(`${s.url}/dashboard/data?range=1h&tenant=globex`, auth);
    expect(one.body.tenant).toBe('globex');
    expect(one.body.budgets.map((b: { tenant: string }) => b.tenant)).toEqual(['globex']);
    expect(one.body.tenant_names).toEqual(['acme', 'globex']);
    const token = (await new TenantStore(s.redis, s.svc.queue.keys).rotate('acme')) as string;
    expect((await get(`${s.url}/dashboard/data`, { authorization: `Bearer ${token}` })).status).toBe(401);
  });

  it.runIf(existsSync(chromiumPath) || onCI)('the page draws the budgets and filters by tenant', async () => {
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox'],
    });
    try {
      const ctx = await browser.newContext({ httpCredentials: { username: 'promptq', password: admin } });
      const page = await ctx.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(`${s.url}/dashboard?range=1h`);
      await page.waitForSelector('body[data-rendered="1h"]');
      expect(await page.$$('#budgets tr')).toHaveLength(3);
      expect(await page.$eval('#budgets', (b) => b.textContent)).toContain('$1.00 / $4.00');
      await page.selectOption('#tenant', 'globex');
      // Polled from here: the page's CSP forbids the string evaluation waitForFunction would use.
      for (let i = 0; i < 200 && (await page.$$('#budgets tr')).length !== 2; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(await page.$$('#budgets tr')).toHaveLength(2);
      expect(await page.$eval('#budgets', (b) => b.textContent)).toContain('globex');
      expect(page.url()).toContain('tenant=globex');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
