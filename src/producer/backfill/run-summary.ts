/**
 * A backfill run's summary: counts, tokens, cost, latency percentiles and failures by reason. Built
 * one outcome at a time so it costs the same whether it sums ten jobs or half a million.
 */
import { dict, own } from '../../core/dict.js';
import { formatCount, formatUsd, printable } from '../../core/format.js';
import type { JobRecord } from '../../core/record.js';
import { quantileOfSorted } from '../../core/stats.js';

export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

export interface BackfillSummary {
  /** Non-blank input lines. */
  lines: number;
  invalid: number;
  succeeded: number;
  failed: number;
  /** Not finished yet (results written without waiting, or the wait timed out). */
  pending: number;
  /** No such job in Redis (never enqueued, or removed after its retention time). */
  missing: number;
  /** `--via batches`: requests whose batch was canceled before they ran. */
  canceled: number;
  /** `--via batches`: requests the batch did not get to within 24 h (and that were not sent again). */
  expired: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cost_usd: number;
  /** The successful API call, per job. */
  latency_ms: Percentiles;
  /** Enqueue → finish, per job. */
  total_ms: Percentiles;
  /** Failed jobs by the record's `error_type` (invalid lines are counted in `invalid` only). */
  failures_by_reason: Record<string, number>;
}

export type OutcomeType =
  | 'succeeded'
  | 'errored'
  | 'pending'
  | 'missing'
  | 'invalid'
  | 'canceled'
  | 'expired';

/** A growable array of numbers (8 bytes each: 4 MB per half a million jobs). */
class Samples {
  #data = new Float64Array(1024);
  #n = 0;
  push(v: number): void {
    if (this.#n === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2);
      next.set(this.#data);
      this.#data = next;
    }
    this.#data[this.#n++] = v;
  }
  percentiles(): Percentiles {
    const sorted = this.#data.slice(0, this.#n).sort();
    return { p50: quantileOfSorted(sorted, 0.5), p95: quantileOfSorted(sorted, 0.95) };
  }
}

export class SummaryBuilder {
  readonly #s: Omit<BackfillSummary, 'latency_ms' | 'total_ms'> = {
    lines: 0,
    invalid: 0,
    succeeded: 0,
    failed: 0,
    pending: 0,
    missing: 0,
    canceled: 0,
    expired: 0,
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cost_usd: 0,
    failures_by_reason: dict(),
  };
  readonly #latency = new Samples();
  readonly #total = new Samples();

  add(type: OutcomeType, record: JobRecord | null, reason?: string): void {
    const s = this.#s;
    s.lines += 1;
    if (type === 'succeeded') s.succeeded += 1;
    else if (type === 'errored') s.failed += 1;
    else if (type === 'invalid') s.invalid += 1;
    else s[type] += 1;
    if (type === 'errored') {
      const r = reason ?? 'unknown';
      s.failures_by_reason[r] = (own(s.failures_by_reason, r) ?? 0) + 1;
    }
    if (record === null) return;
    s.input_tokens += record.input_tokens;
    s.output_tokens += record.output_tokens;
    s.cache_creation_input_tokens += record.cache_creation_input_tokens;
    s.cache_read_input_tokens += record.cache_read_input_tokens;
    s.cost_usd += record.cost_usd ?? 0;
    if (type === 'succeeded' && record.latency_ms !== null) this.#latency.push(record.latency_ms);
    if (type === 'succeeded' && record.total_ms !== null) this.#total.push(record.total_ms);
  }

  /** Finished jobs so far (succeeded or failed). */
  get finished(): number {
    return this.#s.succeeded + this.#s.failed;
  }
  get failed(): number {
    return this.#s.failed;
  }
  get inputTokens(): number {
    return this.#s.input_tokens;
  }
  get outputTokens(): number {
    return this.#s.output_tokens;
  }
  get costUsd(): number {
    return this.#s.cost_usd;
  }

  build(): BackfillSummary {
    return {
      ...this.#s,
      cost_usd: Math.round(this.#s.cost_usd * 1e9) / 1e9,
      failures_by_reason: { ...this.#s.failures_by_reason },
      latency_ms: this.#latency.percentiles(),
      total_ms: this.#total.percentiles(),
    };
  }
}

const n = formatCount;
const ms = (p: Percentiles) => (p.p50 === null ? '-' : `p50 ${n(p.p50)} ms, p95 ${n(p.p95 ?? 0)} ms`);

/** The summary as a few human-readable lines. */
export function formatSummary(s: BackfillSummary): string {
  const reasons = Object.entries(s.failures_by_reason)
    .sort((a, b) => b[1] - a[1])
    .map(([r, c]) => `${printable(r)} ${n(c)}`)
    .join(', ');
  return [
    `lines ${n(s.lines)}: succeeded ${n(s.succeeded)}, failed ${n(s.failed)}, invalid ${n(s.invalid)}, pending ${n(s.pending)}, missing ${n(s.missing)}${s.canceled + s.expired > 0 ? `, canceled ${n(s.canceled)}, expired ${n(s.expired)}` : ''}`,
    `tokens: input ${n(s.input_tokens)}, output ${n(s.output_tokens)}, cache write ${n(s.cache_creation_input_tokens)}, cache read ${n(s.cache_read_input_tokens)}`,
    `cost: ${formatUsd(s.cost_usd)}`,
    `latency (API call): ${ms(s.latency_ms)}; enqueue → finish: ${ms(s.total_ms)}`,
    `failures by reason: ${reasons === '' ? 'none' : reasons}`,
  ].join('\n');
}
