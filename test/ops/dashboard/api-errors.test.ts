/**
 * The dashboard shows API errors (issue 25.1): under a fault load on the simulator (529s, 500s,
 * dropped connections, hangs cut off by the request timeout) every job is retried to an end, and the
 * attempt-level error rate by class that `/dashboard/data` and `promptq report` show is the one
 * `/metrics` gives Prometheus (`promptq_requests_total` by outcome), and both equal what the
 * simulator itself served (its own counters).
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DashboardData } from '../../../src/ops/dashboard/summary.js';
import { until } from '../../chaos/helpers.js';
import { browserTests, launchChromium } from '../../helpers/chromium.js';
import { spawnCli } from '../../helpers/cli.js';
import { get, post, type Stack, startStack } from '../../helpers/stack.js';
import { redisEnv } from '../../helpers/topology.js';
import { sum } from './workload.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const n = 40;
const models = ['claude-haiku-4-5', 'claude-sonnet-5'];
const tenants = ['acme', 'globex', 'initech'];

/** `promptq_requests_total` (or another counter) summed by one label, from a /metrics text. */
function byLabel(text: string, metric: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${metric}\\{([^}]*)\\} (\\d+)$`, 'gm'))) {
    const v = new RegExp(`${label}="([^"]*)"`).exec(m[1] ?? '')?.[1] ?? '';
    out[v] = (out[v] ?? 0) + Number(m[2]);
  }
  return out;
}

describe('dashboard: API attempt errors by class under a fault load', () => {
  let s: Stack;
  let data: DashboardData;
  let metrics: string;

  beforeAll(async () => {
    s = await startStack({
      sim: { seed: 7, faults: { overloaded: 0.15, apiError: 0.1, drop: 0.05, hang: 0.04 } },
      env: {
        PROMPTQ_MAX_ATTEMPTS: '8',
        PROMPTQ_REQUEST_TIMEOUT_MS: '400',
        PROMPTQ_RETRY_MAX_MS: '200',
        PROMPTQ_CONCURRENCY: '8',
      },
    });
    // Two models and three tenants: the screenshot in docs/observability.md is this page.
    const jobs = Array.from({ length: n }, (_, i) => ({
      model: models[i % 2],
      max_tokens: 40 + 20 * (i % 4),
      tenant_id: tenants[i % 3],
      prompt: `Write ${1 + (i % 5)} sentences about queue ${i}.`,
    }));
    expect((await post(`${s.url}/v1/jobs/batch`, { jobs })).status).toBe(202);
    const stack = s;
    await until(
      async () => {
        const c = await stack.bull.getJobCounts('completed', 'failed');
        return (c.completed ?? 0) + (c.failed ?? 0) === n;
      },
      'every job to finish',
      90_000,
    );
    // Attempts are rolled up off the job's path: wait until every call the simulator saw is in.
    const served = s.sim.stats().requests;
    await until(
      async () => {
        data = (await get(`${stack.url}/dashboard/data?range=1h`)).body as DashboardData;
        return data.totals.attempts === served && data.totals.jobs === n;
      },
      'the rollups to count every attempt',
      20_000,
    );
    metrics = (await get(`${s.url}/metrics`)).body.text as string;
  }, 120_000);
  afterAll(() => s?.close());

  it('the attempt error rate by class is the one /metrics gives, and what the simulator served', () => {
    const st = s.sim.stats();
    const outcomes = byLabel(metrics, 'promptq_requests_total', 'outcome');
    const all = sum(Object.values(outcomes));
    const failed = all - (outcomes.success ?? 0);
    console.log(
      `api errors: ${n} jobs, ${all} attempts, ${failed} failed (${((100 * failed) / all).toFixed(1)} %): ` +
        `${JSON.stringify(outcomes)}; dashboard ${JSON.stringify(data.attempt_errors)}`,
    );
    // A real fault load: a fifth or more of the attempts failed, in every class the simulator drew.
    expect(failed / all).toBeGreaterThan(0.2);
    expect(all).toBe(st.requests);
    expect(data.totals.attempts).toBe(all);
    expect(data.totals.failed_attempts).toBe(failed);
    expect(data.totals.attempt_error_rate).toBeCloseTo(failed / all, 12);
    // By class, against the simulator's own counters.
    const served = {
      overloaded: st.byStatus[529] ?? 0,
      server_error: st.byStatus[500] ?? 0,
      network_error: st.drops,
      timeout: st.hangs,
    };
    for (const [cls, count] of Object.entries(served)) {
      expect(count, cls).toBeGreaterThan(0);
      expect(outcomes[cls], `/metrics ${cls}`).toBe(count);
      expect(data.attempt_errors[cls]?.attempts, `dashboard ${cls}`).toBe(count);
      expect(data.attempt_errors[cls]?.rate, `dashboard ${cls}`).toBeCloseTo(count / all, 12);
      expect(sum(data.series.attempt_errors[cls] ?? []), `series ${cls}`).toBe(count);
    }
    expect(Object.keys(data.attempt_errors).sort()).toEqual(Object.keys(served).sort());
    // Retries over time: every retried attempt, as Prometheus counts them.
    const retries = sum(Object.values(byLabel(metrics, 'promptq_retries_total', 'reason')));
    expect(retries).toBeGreaterThan(0);
    expect(data.totals.retries).toBe(retries);
    expect(sum(data.series.retries)).toBe(retries);
    expect(sum(data.series.attempts)).toBe(all);
    // Percentiles come from buckets here, and say so.
    expect(data.percentiles).toBe('bucket_bound');
  });

  it('`promptq report` prints the same attempt errors by class', async () => {
    const cli = spawnCli(['report', '--since', '1h'], { ...redisEnv(), PROMPTQ_QUEUE: s.config.queue });
    expect(await cli.exited).toBe(0);
    const out = cli.stdout();
    const row = (name: string) =>
      out
        .split('\n')
        .find((l) => l.trim().startsWith(`${name} `))
        ?.trim()
        .split(/\s{2,}/);
    expect(row('all attempts')?.[1]).toBe(String(data.totals.attempts));
    expect(row('failed attempts')?.[1]).toBe(String(data.totals.failed_attempts));
    for (const [cls, shown] of [
      ['overloaded', '529'],
      ['server_error', '5xx'],
      ['network_error', 'network'],
      ['timeout', 'timeout'],
    ] as const) {
      expect(row(shown)?.[1], shown).toBe(String(data.attempt_errors[cls]?.attempts));
    }
    expect(row('retried')?.[1]).toBe(String(data.totals.retries));
    expect(out).toMatch(/p50 \(bucket bound\)/);
  });

  // On CI a missing chromium is a failure, not a skip (.ci/run installs it).
  it.runIf(browserTests)(
    'the page draws the attempt errors by class and the retries (PROMPTQ_UPDATE_SCREENSHOT=1: docs/dashboard.png)',
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
        const problems: string[] = [];
        page.on('pageerror', (e) => problems.push(e.message));
        await page.goto(`${s.url}/dashboard?range=1h`);
        await page.waitForSelector('body[data-rendered="1h"]', { timeout: 15_000 });
        const lines = await page.$$eval('svg[data-chart="apierrors"] path[data-series]', (ps) =>
          ps.map((p) => p.getAttribute('data-series')),
        );
        expect(lines.sort()).toEqual(['429', '4xx', '529', '5xx', 'network', 'timeout']);
        const rows = await page.$$eval('#errorclasses tr', (trs) =>
          trs.slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
        );
        const shown = Object.fromEntries(rows.map((r) => [r[0], Number(r[1])]));
        expect(shown).toEqual({
          '529': data.attempt_errors.overloaded?.attempts,
          '5xx': data.attempt_errors.server_error?.attempts,
          network: data.attempt_errors.network_error?.attempts,
          timeout: data.attempt_errors.timeout?.attempts,
        });
        const kpi = await page.$eval('[data-kpi="API error rate"] b', (b) => b.textContent);
        expect(kpi).toBe(`${((data.totals.attempt_error_rate ?? 0) * 100).toFixed(1)}%`);
        expect(await page.$$('svg[data-chart="retries"] path[data-series]')).toHaveLength(2);
        const shot = process.env.PROMPTQ_UPDATE_SCREENSHOT
          ? join(root, 'docs/dashboard.png')
          : join(mkdtempSync(join(tmpdir(), 'promptq-')), 'dashboard.png');
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
