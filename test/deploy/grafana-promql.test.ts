/**
 * Every Grafana panel query really parses as PromQL and names only metrics promptq exports.
 * promtool has no offline "parse this query" command, so the queries become recording rules in a
 * temporary rule file and `promtool check rules` parses them (the same parser Prometheus uses).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Metrics } from '../../src/ops/metrics/metrics.js';
import { registerTenantGauges } from '../../src/ops/metrics/tenant-gauges.js';
import { DOCUMENTED_METRICS } from './documented-metrics.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const promtool = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));
const onCI = !['', '0', 'false', undefined].includes(process.env.CI);

interface Panel {
  id: number;
  title: string;
  type: string;
  targets?: { refId: string; expr: string }[];
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(join(root, 'deploy/grafana/dashboards/promptq.json'), 'utf8')) as {
  panels: Panel[];
  templating: { list: { name: string }[] };
};
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, ...t })));

/** Grafana's variables replaced by values of the kind Grafana substitutes. */
function concrete(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h')
    .replaceAll('$queue', '.*')
    .replaceAll('$tenant', '.*');
}

/** Every series name promptq exports: the metrics registry (with histogram series) + queue gauges. */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  const add = (name: string, type: string) => {
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  };
  const metrics = new Metrics();
  // Tenant gauges are registered against a tenant store (src/ops/metrics/tenant-gauges.ts).
  registerTenantGauges(metrics, { list: async () => [] });
  for (const m of await metrics.registry.getMetricsAsJSON()) add(m.name, String(m.type));
  // Queue gauges are registered against a live queue (src/ops/metrics/queue-gauges.ts); docs/reference/metrics.md fixes them.
  for (const [name, type] of Object.entries(DOCUMENTED_METRICS)) add(name, type);
  return names;
}

function checkRules(records: { record: string; expr: string }[]): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'promptq-promql-'));
  const file = join(dir, 'panels.yml');
  writeFileSync(file, stringify({ groups: [{ name: 'grafana-panels', rules: records }] }));
  const r = spawnSync(promtool as string, ['check', 'rules', file], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('Grafana dashboard queries', () => {
  it('cover what an SRE needs: latency p50/p95 per model, errors by outcome, 429s, headroom, tenants, cost projection, queue', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const needle of [
      'histogram_quantile(0.5, sum by (model, le) (rate(promptq_request_duration_seconds_bucket',
      'histogram_quantile(0.95, sum by (model, le) (rate(promptq_request_duration_seconds_bucket',
      'sum by (outcome) (rate(promptq_requests_total{outcome!="success"}',
      'promptq_requests_total{outcome="rate_limited"}',
      'promptq_ratelimit_remaining / promptq_ratelimit_limit',
      'sum by (tenant, type) (rate(promptq_tokens_total',
      'sum by (tenant) (rate(promptq_cost_usd_total',
      'increase(promptq_cost_usd_total[24h])',
      'promptq_queue_jobs',
      'promptq_queue_wait_seconds_bucket',
      'promptq_queue_oldest_waiting_seconds',
      'max by (tenant, period) (promptq_tenant_spent_usd{tenant=~"$tenant"}) / max by (tenant, period) (promptq_tenant_budget_usd',
    ]) {
      expect(all, needle).toContain(needle);
    }
    // Queue gauges are the same from every process: panels take max, never sum.
    for (const q of queries) {
      if (
        /promptq_(queue_jobs|queue_oldest_waiting_seconds|workers|tenant_budget_usd|tenant_spent_usd)\b/.test(
          q.expr,
        )
      )
        expect(q.expr, q.panel.title).toMatch(/^max\b/);
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['queue', 'tenant']));
  });

  it('name only metrics promptq exports', async () => {
    const exported = await exportedNames();
    expect(exported.has('promptq_requests_total')).toBe(true);
    for (const q of queries) {
      const names = [...q.expr.matchAll(/\b(promptq_[a-z0-9_]+)/g)].map((m) => m[1] ?? '');
      expect(names.length, `${q.panel.title}: ${q.expr}`).toBeGreaterThan(0);
      for (const n of names) expect(exported.has(n), `${q.panel.title}: ${n}`).toBe(true);
    }
  });

  it.runIf(promtool !== undefined || onCI)('every panel query parses (promtool check rules)', () => {
    if (!promtool) expect.fail('promtool is not on PATH (Debian: apt-get install prometheus)');
    expect(queries.length).toBeGreaterThanOrEqual(15);
    const records = queries.map((q) => ({
      record: `grafana:panel_${q.panel.id}:${q.refId.toLowerCase()}`,
      expr: concrete(q.expr),
    }));
    const ok = checkRules(records);
    expect(ok.out).toMatch(new RegExp(`SUCCESS: ${records.length} rules found`));
    expect(ok.status, ok.out).toBe(0);
    // The check can fail: a broken query is rejected with its parse error.
    const broken = checkRules([
      { record: 'grafana:broken', expr: 'sum by (model (rate(promptq_jobs_total[5m]))' },
    ]);
    expect(broken.status).not.toBe(0);
    expect(broken.out).toMatch(/parse error/);
  });
});
