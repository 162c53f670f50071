import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DashboardData } from '../../../src/ops/dashboard/summary.js';
import { browserTests, launchChromium } from '../../helpers/chromium.js';
import { spawnCli } from '../../helpers/cli.js';
import { get, type Stack, startStack } from '../../helpers/stack.js';
import { redisEnv } from '../../helpers/topology.js';
import { dashboardCounting, type FinishedJob, labelsOf, runWorkload, sum } from './workload.js';

const token = 'dash-token-0123456789';
const auth = { authorization: `Bearer ${token}` };

describe('built-in dashboard over real rollups', () => {
  let s: Stack;
  let jobs: FinishedJob[];
  let data: DashboardData;

  beforeAll(async () => {
    s = await startStack({
      sim: { ttftMs: 20 },
      env: { PROMPTQ_AUTH_TOKEN: token, PROMPTQ_MAX_TENANT_LABELS: '2' },
    });
    jobs = await runWorkload(s, auth);
    data = await dashboardCounting(s, jobs.length, auth);
  }, 60_000);
  afterAll(() => s?.close());

  it('counts every finished job once, with the failed ones and their error type', () => {
    const failed = jobs.filter((j) => j.state === 'failed');
    expect(failed).toHaveLength(1);
    expect(data.totals.jobs).toBe(jobs.length);
    expect(data.totals.failed).toBe(1);
    expect(data.totals.error_rate).toBeCloseTo(1 / jobs.length, 9);
    expect(data.errors).toEqual({ invalid_request_error: 1 });
    expect(sum(data.series.jobs)).toBe(jobs.length);
    expect(sum(data.series.failed)).toBe(1);
  });

  it('tokens and cost per tenant equal the sums over job records (bounded tenants, `other` included)', () => {
    const label = labelsOf(jobs, 2);
    expect(new Set(label.values())).toEqual(new Set(['acme', 'globex', 'other']));
    expect(Object.keys(data.tenants).sort()).toEqual(['acme', 'globex', 'other']);
    for (const [t, f] of Object.entries(data.tenants)) {
      const mine = jobs.filter((j) => label.get(j) === t).map((j) => j.record);
      expect(f.input_tokens, t).toBe(sum(mine.map((r) => r.input_tokens)));
      expect(f.output_tokens, t).toBe(sum(mine.map((r) => r.output_tokens)));
      expect(f.cost_usd, t).toBeCloseTo(sum(mine.map((r) => r.cost_usd ?? 0)), 6);
    }
    expect(data.totals.cost_usd).toBeCloseTo(sum(jobs.map((j) => j.record.cost_usd ?? 0)), 6);
    // Today's cost is in the month so far, and the projection never goes below it.
    expect(data.projection.month_to_date_usd).toBeGreaterThanOrEqual(data.totals.cost_usd - 1e-6);
    expect(data.projection.month_end_usd).toBeGreaterThanOrEqual(data.projection.month_to_date_usd);
  });

  it('latency per model and max_tokens used match the completed records', () => {
    for (const model of ['claude-haiku-4-5', 'claude-sonnet-4-9']) {
      const done = jobs
        .filter((j) => j.state === 'completed' && j.record.model === model)
        .map((j) => j.record);
      const f = data.models[model];
      expect(f, model).toBeDefined();
      expect(f?.completed).toBe(done.length);
      expect(f?.avg_ms).toBe(Math.round(sum(done.map((r) => r.latency_ms ?? 0)) / done.length));
      const max = Math.max(...done.map((r) => r.latency_ms ?? 0));
      // The bucket quantile is an upper bound: never below the real p50, never above the next bound.
      expect(f?.p95_ms).toBeGreaterThanOrEqual(max);
      expect(f?.max_tokens_used).toBeCloseTo(
        sum(done.map((r) => r.output_tokens)) / sum(done.map((r) => r.max_tokens)),
        9,
      );
      expect(sum(f?.usage_buckets ?? [])).toBe(done.length);
      // Network time (to response headers) per model, from the records' ttfb_ms.
      expect(f?.avg_ttfb_ms).toBe(Math.round(sum(done.map((r) => r.ttfb_ms ?? 0)) / done.length));
    }
    // The slowest calls are real jobs, slowest first.
    expect(data.slowest.length).toBe(jobs.length);
    const ids = new Set(jobs.map((j) => j.id));
    for (const c of data.slowest) expect(ids.has(c.id)).toBe(true);
    const totals = data.slowest.map((c) => c.total_ms);
    expect([...totals].sort((a, b) => b - a)).toEqual(totals);
  });

  it('is behind the same auth, and names a bad range', async () => {
    expect((await get(`${s.url}/dashboard`)).status).toBe(401);
    expect((await get(`${s.url}/dashboard/data?range=1h`)).status).toBe(401);
    const unauth = await fetch(`${s.url}/dashboard`);
    expect(unauth.headers.get('www-authenticate')).toMatch(/^Basic/);
    const bad = await get(`${s.url}/dashboard/data?range=7y`, auth);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^range: /);
  });

  it('`promptq report` prints the same figures in the terminal', async () => {
    const env = { ...redisEnv(), PROMPTQ_QUEUE: s.config.queue };
    // Three real CLI processes, run side by side.
    const text = spawnCli(['report', '--since', '1h'], env);
    const json = spawnCli(['report', '--since', '1h', '--json'], env);
    const bad = spawnCli(['report', '--since', 'yesterday'], env);
    expect(await text.exited).toBe(0);
    const out = text.stdout();
    expect(out).toContain(`queue ${s.config.queue}, last 1h`);
    const label = labelsOf(jobs, 2);
    for (const t of ['acme', 'globex', 'other']) {
      const mine = jobs.filter((j) => label.get(j) === t).map((j) => j.record);
      const row = out.split('\n').find((l) => l.startsWith(`${t} `));
      expect(row, `tenant row ${t}`).toBeDefined();
      const cols = row?.trim().split(/\s{2,}/) ?? [];
      expect(Number(cols[1])).toBe(sum(mine.map((r) => r.input_tokens)));
      expect(Number(cols[2])).toBe(sum(mine.map((r) => r.output_tokens)));
    }
    for (const j of jobs) expect(out).toContain(j.id);

    expect(await json.exited).toBe(0);
    const d = JSON.parse(json.stdout()) as DashboardData;
    expect(d.totals).toEqual(data.totals);
    expect(d.tenants).toEqual(data.tenants);

    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toMatch(
      /^promptq: --since: expected a duration like 30m, 1h or 24h, got "yesterday"\n$/,
    );
  });

  // On CI a missing chromium is a failure, not a skip (.ci/run installs it).
  it.runIf(browserTests)(
    'renders every chart in headless Chromium from the real data',
    async () => {
      const browser = await launchChromium();
      try {
        // Browsers send Basic auth; the token is the password (like Bull Board).
        const ctx = await browser.newContext({
          httpCredentials: { username: 'promptq', password: token },
          viewport: { width: 1280, height: 1100 },
        });
        const page = await ctx.newPage();
        const problems: string[] = [];
        page.on('pageerror', (e) => problems.push(e.message));
        page.on('console', (m) => {
          if (m.type() === 'error') problems.push(m.text());
        });
        await page.goto(`${s.url}/dashboard?range=1h`);
        await page.waitForSelector('body[data-rendered="1h"]', { timeout: 15_000 });
        expect(problems).toEqual([]);

        // One latency line per model, each with at least one data point.
        const series = await page.$$eval('svg[data-chart="latency"] path[data-series]', (ps) =>
          ps.map((p) => [p.getAttribute('data-series'), Number(p.getAttribute('data-points'))]),
        );
        expect(Object.fromEntries(series)).toEqual({
          'claude-haiku-4-5': expect.any(Number),
          'claude-sonnet-4-9': expect.any(Number),
        });
        for (const [, n] of series) expect(n).toBeGreaterThan(0);
        const errPoints = await page.$eval('svg[data-chart="errors"] path', (p) =>
          Number(p.getAttribute('data-points')),
        );
        expect(errPoints).toBeGreaterThan(0);
        expect(await page.$$('svg[data-chart="spend"] path')).toHaveLength(1);

        // The tenant bars carry the same numbers as the records.
        const bars = await page.$$eval('svg[data-chart="tokens"] rect', (rs) =>
          rs.map((r) => ({
            label: r.getAttribute('data-label'),
            key: r.getAttribute('data-key'),
            value: Number(r.getAttribute('data-value')),
          })),
        );
        const label = labelsOf(jobs, 2);
        for (const t of ['acme', 'globex', 'other']) {
          const mine = jobs.filter((j) => label.get(j) === t).map((j) => j.record);
          expect(bars).toContainEqual({
            label: t,
            key: 'output',
            value: sum(mine.map((r) => r.output_tokens)),
          });
        }
        expect(await page.$$('svg[data-chart="cost"] rect')).toHaveLength(3);
        expect(await page.$$('svg[data-chart="maxtokens"] rect')).toHaveLength(2);
        expect(await page.$$('#slowest tr')).toHaveLength(jobs.length + 1);
        // Spend and projection per tenant: a row per tenant under the header.
        expect(await page.$$('#tenantcost tr')).toHaveLength(4);
        const kpi = await page.$eval('[data-kpi="jobs"] b', (b) => b.textContent);
        expect(kpi).toBe(String(jobs.length));

        // Switching the range reloads the data.
        await page.click('button[data-range="24h"]');
        await page.waitForSelector('body[data-rendered="24h"]');
        await page.click('button[data-range="1h"]');
        await page.waitForSelector('body[data-rendered="1h"]');
        // The screenshot in docs/observability.md is taken under a fault load (api-errors.test.ts).
        const shot = join(mkdtempSync(join(tmpdir(), 'promptq-')), 'dashboard.png');
        await page.screenshot({ path: shot, fullPage: true });
        expect(statSync(shot).size).toBeGreaterThan(10_000);
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
