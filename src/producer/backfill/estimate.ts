/**
 * `--dry-run`: what a backfill will cost and how long the account's rate limits make it take,
 * before anything is enqueued.
 *
 * Assumptions, printed with the estimate: input tokens are the local estimate (about 4 characters
 * per token) unless `--count-tokens` asked the API; output tokens are `max_tokens` (an upper bound)
 * unless completed jobs of the same model in this queue show the usual output/max_tokens ratio; the
 * Batches API costs 50% of the standard price and may take up to 24 h; the time is what the given
 * limits allow at best (requests, input and output tokens per minute, whichever binds), ignoring
 * latency and concurrency.
 */
import type { Queue } from 'bullmq';
import { formatCount, formatPercent, formatUsd } from '../../core/format.js';
import type { PerMinuteLimits, PerMinuteName } from '../../core/rate-limits.js';
import type { JobResult } from '../../core/result.js';
import type { PriceTable } from '../../providers/anthropic/pricing.js';
import type { ModelTotals, ScanResult } from './scan.js';

/** Per-minute limits of the account for the model(s), when known. */
export type RateLimits = PerMinuteLimits;

export interface ModelEstimate {
  model: string;
  jobs: number;
  inputTokens: number;
  /** `count_tokens` or `local`. */
  inputSource: 'count_tokens' | 'local';
  outputTokens: number;
  /** The output/max_tokens ratio used (1 = max_tokens, an upper bound). */
  outputRatio: number;
  /** How many completed jobs that ratio was observed on (0 = none). */
  outputRatioSamples: number;
  standardUsd: number | null;
  batchesUsd: number | null;
}

export interface Estimate {
  lines: number;
  jobs: number;
  invalid: number;
  models: ModelEstimate[];
  inputTokens: number;
  outputTokens: number;
  standardUsd: number;
  batchesUsd: number;
  /** Models without a price (their cost is not in the totals). */
  unpriced: string[];
  /** Best case under the given limits, in seconds; `null` when no limit was given. */
  rateLimitedSeconds: number | null;
  /** Which limit binds. */
  bindingLimit: PerMinuteName | null;
}

/** Batches API discount on every token price. */
export const batchesDiscount = 0.5;

/**
 * Output/max_tokens per model over the most recent completed jobs of the queue (up to `sample`).
 */
export async function observedOutputRatios(
  queue: Queue,
  sample = 500,
): Promise<Map<string, { ratio: number; samples: number }>> {
  const jobs = await queue.getJobs(['completed'], 0, sample - 1);
  const acc = new Map<string, { out: number; max: number; samples: number }>();
  for (const j of jobs) {
    const rec = (j?.returnvalue as JobResult | undefined)?.record;
    if (!rec || rec.max_tokens <= 0) continue;
    const a = acc.get(rec.model) ?? { out: 0, max: 0, samples: 0 };
    a.out += rec.output_tokens;
    a.max += rec.max_tokens;
    a.samples += 1;
    acc.set(rec.model, a);
  }
  return new Map([...acc].map(([m, a]) => [m, { ratio: a.out / a.max, samples: a.samples }]));
}

export function estimate(
  scan: ScanResult,
  prices: PriceTable,
  opts: {
    ratios?: Map<string, { ratio: number; samples: number }>;
    /** Input tokens per model from `count_tokens`, replacing the local estimate. */
    counted?: Map<string, number>;
    limits?: RateLimits;
  } = {},
): Estimate {
  const models: ModelEstimate[] = [];
  const unpriced: string[] = [];
  for (const [model, t] of [...scan.byModel].sort((a, b) => b[1].jobs - a[1].jobs)) {
    models.push(modelEstimate(model, t, prices, opts.ratios?.get(model), opts.counted?.get(model)));
    if (prices.lookup(model) === undefined) unpriced.push(model);
  }
  const sum = (f: (m: ModelEstimate) => number) => models.reduce((s, m) => s + f(m), 0);
  const inputTokens = sum((m) => m.inputTokens);
  const outputTokens = sum((m) => m.outputTokens);
  const l = opts.limits ?? {};
  const candidates: Array<[PerMinuteName, number]> = [];
  if (l.rpm) candidates.push(['rpm', (scan.jobs / l.rpm) * 60]);
  if (l.itpm) candidates.push(['itpm', (inputTokens / l.itpm) * 60]);
  if (l.otpm) candidates.push(['otpm', (outputTokens / l.otpm) * 60]);
  const binding = candidates.sort((a, b) => b[1] - a[1])[0];
  return {
    lines: scan.lines,
    jobs: scan.jobs,
    invalid: scan.invalid,
    models,
    inputTokens,
    outputTokens,
    standardUsd: sum((m) => m.standardUsd ?? 0),
    batchesUsd: sum((m) => m.batchesUsd ?? 0),
    unpriced,
    rateLimitedSeconds: binding ? binding[1] : null,
    bindingLimit: binding ? binding[0] : null,
  };
}

function modelEstimate(
  model: string,
  t: ModelTotals,
  prices: PriceTable,
  observed: { ratio: number; samples: number } | undefined,
  counted: number | undefined,
): ModelEstimate {
  const ratio = observed && observed.samples > 0 ? Math.min(1, observed.ratio) : 1;
  const inputTokens = counted ?? t.inputTokens;
  const outputTokens = Math.round(t.maxOutputTokens * ratio);
  const zero = { cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  const priced = prices.lookup(model) !== undefined;
  const standardUsd = priced
    ? prices.cost(model, { input_tokens: inputTokens, output_tokens: outputTokens, ...zero })
    : null;
  return {
    model,
    jobs: t.jobs,
    inputTokens,
    inputSource: counted === undefined ? 'local' : 'count_tokens',
    outputTokens,
    outputRatio: ratio,
    outputRatioSamples: observed?.samples ?? 0,
    standardUsd,
    batchesUsd: standardUsd === null ? null : Math.round(standardUsd * batchesDiscount * 1e9) / 1e9,
  };
}

const n = formatCount;
const usd = formatUsd;

function hours(sec: number): string {
  if (sec < 120) return `${Math.ceil(sec)} s`;
  if (sec < 7200) return `${(sec / 60).toFixed(1)} min`;
  return `${(sec / 3600).toFixed(1)} h`;
}

/** The estimate as text, assumptions and the Batches API comparison included. */
export function formatEstimate(e: Estimate): string {
  const out: string[] = [];
  out.push(
    `${n(e.jobs)} jobs from ${n(e.lines)} lines${e.invalid > 0 ? ` (${n(e.invalid)} invalid, skipped)` : ''}`,
  );
  for (const m of e.models) {
    const outNote =
      m.outputRatioSamples > 0
        ? `${formatPercent(m.outputRatio, 0)} of max_tokens, observed on ${n(m.outputRatioSamples)} completed jobs`
        : 'max_tokens, an upper bound';
    out.push(
      `  ${m.model}: ${n(m.jobs)} jobs, input ${n(m.inputTokens)} tokens (${m.inputSource === 'local' ? 'local estimate' : 'count_tokens'}), output ${n(m.outputTokens)} tokens (${outNote}), ` +
        (m.standardUsd === null
          ? 'no price known'
          : `${usd(m.standardUsd)} standard, ${usd(m.batchesUsd ?? 0)} Batches API`),
    );
  }
  out.push(`total: input ${n(e.inputTokens)} tokens, output ${n(e.outputTokens)} tokens`);
  out.push(`cost at standard price (promptq): ${usd(e.standardUsd)}`);
  out.push(`cost at Batches API price (50%, results within 24 h): ${usd(e.batchesUsd)}`);
  if (e.unpriced.length > 0)
    out.push(`no price for: ${e.unpriced.join(', ')} (not in the totals; see PROMPTQ_PRICING_FILE)`);
  if (e.rateLimitedSeconds === null) {
    out.push(
      "time: unknown — pass --rpm/--itpm/--otpm (your account's limits for the model) for an estimate",
    );
  } else {
    out.push(
      `time at your rate limits: at least ${hours(e.rateLimitedSeconds)} (bound by ${e.bindingLimit})`,
    );
    const saving = e.standardUsd - e.batchesUsd;
    out.push(
      e.rateLimitedSeconds >= 24 * 3600
        ? `the Batches API is the better choice: it saves ${usd(saving)} and your limits need more than 24 h anyway`
        : `choose promptq if you need the results within ${hours(e.rateLimitedSeconds)}; the Batches API saves ${usd(saving)} if they can wait up to 24 h`,
    );
  }
  return out.join('\n');
}
