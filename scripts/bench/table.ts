/** One Markdown table per scenario (pasteable into docs/benchmarks.md). */
import { formatPercent } from '../../src/core/format.js';
import type { RunResult } from './measure.js';
import type { Scenario } from './scenarios.js';

const ratio = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(2));
const secs = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? '—' : (ms / 1000).toFixed(1);

/** Calls in flight the binding allowance needs at the scenario's call latency (Little's law). */
export function inFlightNeeded(s: Scenario): number {
  return Math.ceil((s.limits.rpm / 60) * ((s.latencyMs ?? 0) / 1000));
}

/** The column headers of a scenario's table. */
export function columns(s: Scenario): string[] {
  const cols = [
    'approach',
    'share of ideal throughput',
    'requests',
    'answered 429',
    '429 steady',
    'jobs failed',
    'p50 latency (s)',
    'p95 latency (s)',
  ];
  if (s.competitor) {
    cols.push('429 after the drop', 'share of new ideal from drop+10 s', 'other service refused');
  }
  if (s.id === 'S5') cols.push('interactive tenant p95 (s)');
  if (s.latencyMs) cols.push(`peak in flight (simulator; the allowance needs ${inFlightNeeded(s)})`);
  return cols;
}

function row(s: Scenario, r: RunResult): string[] {
  const failed = r.unfinished > 0 ? `${r.failed} (+${r.unfinished} unfinished)` : String(r.failed);
  const cells = [
    r.label,
    ratio(r.throughputShare),
    String(r.served.requests),
    `${formatPercent(r.rateLimitedShare)} (${r.served.rateLimited})`,
    r.steady ? `${formatPercent(r.steady.rateLimitedShare)} (${r.steady.served.rateLimited})` : '—',
    failed,
    secs(r.p50Ms),
    secs(r.p95Ms),
  ];
  if (s.competitor) {
    const a = r.afterDrop;
    cells.push(
      a ? `${formatPercent(a.rateLimitedShare)} (${a.served.rateLimited})` : '—',
      ratio(a?.throughputShare),
      a ? `${a.otherRefused} of ${a.otherRequests}` : '—',
    );
  }
  if (s.id === 'S5') cells.push(secs(r.smallTenantP95Ms));
  if (s.latencyMs) cells.push(r.peakInFlight === undefined ? '—' : String(r.peakInFlight));
  return cells;
}

/** The scenario's heading line and its Markdown table. */
export function renderTable(s: Scenario, idealS: number, results: readonly RunResult[]): string {
  const limits = [
    `${s.limits.rpm} RPM`,
    `${s.limits.itpm.toLocaleString('en-US')} ITPM`,
    s.binding === 'output_tokens' ? `${s.limits.otpm.toLocaleString('en-US')} OTPM` : null,
    s.shortIntervalSeconds > 0 ? `${s.shortIntervalSeconds}-s guard` : null,
    ...Object.entries(s.groupLimits ?? {}).map(([g, l]) => `${g} ${l.rpm ?? s.limits.rpm} RPM`),
    s.rateLimitHeaders === false ? 'no rate-limit headers' : null,
    s.announced?.rpm ? `headers announce ${s.announced.rpm} RPM` : null,
    s.announced?.otpm ? `headers announce ${s.announced.otpm.toLocaleString('en-US')} OTPM` : null,
    s.competitor ? `another service takes ${s.competitor.rpm} RPM from ${s.competitor.atMs / 1000} s` : null,
  ].filter((x) => x !== null);
  const rounds = results[0]?.rounds;
  const steadyFrom = results.find((r) => r.steady)?.steady?.fromS;
  const notes = [
    rounds ? `medians of ${rounds} rounds` : null,
    steadyFrom !== undefined ? `"429 steady": from ${steadyFrom.toFixed(1)} s on` : null,
  ].filter((x) => x !== null);
  const head = `${s.id}: ${s.title} — ${s.jobs.length} jobs, ${s.workers} worker(s) × ${s.concurrency} in flight, ${limits.join(', ')}; ideal ${s.binding === 'output_tokens' ? '≈' : ''}${idealS.toFixed(1)} s${notes.length ? ` (${notes.join('; ')})` : ''}`;
  const lines = [columns(s), ...results.map((r) => row(s, r))];
  const md = lines.map((cells) => `| ${cells.join(' | ')} |`);
  md.splice(
    1,
    0,
    `|${columns(s)
      .map(() => '---')
      .join('|')}|`,
  );
  return `${head}\n\n${md.join('\n')}\n`;
}
