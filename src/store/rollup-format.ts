/**
 * The rollup format: what a minute's, a day's and an hour's rollup hold, and how that maps to
 * Redis hash fields. The writer (ops/metrics/rollups.ts) encodes with it, the reader
 * (ops/dashboard/summary.ts) decodes with it, so they share one field list.
 *
 * A minute hash has one field per `kind|label` (`jobs|claude-haiku-4-5`, `tok_in|acme`,
 * `lat_b3|claude-haiku-4-5`, `error|overloaded`), so one HGETALL gives a whole minute and every
 * worker adds into the same fields with HINCRBY. `|` cannot occur in a label (see {@link safe}).
 */

import { dict, entry, own } from '../core/dict.js';

export { entry } from '../core/dict.js';

/** Latency bucket upper bounds in ms (LLM calls: tens of ms to minutes); the last is +Inf. */
export const latencyBucketsMs = [100, 250, 500, 1000, 2000, 4000, 8000, 15000, 30000, 60000, 120000, 300000];
/** `output_tokens / max_tokens` bucket upper bounds (how much of max_tokens a call used). */
export const usageBuckets = [0.1, 0.25, 0.5, 0.75, 0.9, 1];
/** Slowest calls kept per hour. */
export const slowestKept = 20;

/** Per-model counters of a minute → their field kind. */
export const modelCounters = {
  jobs: 'jobs',
  completed: 'completed',
  failed: 'failed',
  attempts: 'attempts',
  rateLimited: 'rate_limited',
  /** Latency of completed calls: count and sum (ms). */
  latencyCount: 'lat_n',
  latencySum: 'lat_sum',
  ttfbCount: 'ttfb_n',
  ttfbSum: 'ttfb_sum',
  ttftCount: 'ttft_n',
  ttftSum: 'ttft_sum',
  queueWaitCount: 'wait_n',
  queueWaitSum: 'wait_sum',
  /** Sum of max_tokens and of output tokens over completed calls. */
  maxTokens: 'max_tokens',
  outputTokens: 'out_tokens',
  /** Cost in integer micro-dollars: HINCRBY is exact where HINCRBYFLOAT drifts. */
  costMicro: 'cost_micro_model',
  /** API attempts, counted as each one gets its answer (not when its job finishes). */
  apiAttempts: 'att',
  /** Attempts that will be retried (429s included): `promptq_retries_total`. */
  retried: 'retry',
} as const;
export type ModelCounter = keyof typeof modelCounters;

/** Per-tenant counters of a minute → their field kind. */
export const tenantCounters = {
  inputTokens: 'tok_in',
  outputTokens: 'tok_out',
  cacheCreationTokens: 'tok_cw',
  cacheReadTokens: 'tok_cr',
  costMicro: 'cost_micro',
  /** What the Batches discount and cache reads saved (core/record.ts `savings`), micro-dollars. */
  batchSavedMicro: 'saved_batch_micro',
  cacheSavedMicro: 'saved_cache_micro',
} as const;
export type TenantCounter = keyof typeof tenantCounters;

/**
 * Per-account counters of a minute → their field kind, labelled `provider/account` (bounded: the
 * accounts come from the accounts file, never from a job): API attempts it answered, the failed
 * ones, and the jobs it completed with their cost.
 */
export const accountCounters = {
  attempts: 'acct_att',
  failedAttempts: 'acct_err',
  completed: 'acct_ok',
  costMicro: 'acct_cost',
} as const;
export type AccountCounter = keyof typeof accountCounters;

/** Per-tenant counters of a day (the month-end projection) → their field kind. */
export const dayCounters = { costMicro: 'cost_micro', jobs: 'jobs' } as const;
export type DayCounter = keyof typeof dayCounters;

/** Histogram fields: `lat_b<i>|model` (latency) and `use_b<i>|model` (max_tokens used). */
const latencyKind = 'lat_b';
const usageKind = 'use_b';
const errorKind = 'error';
/** Failed API attempts by class: `att_err|overloaded`. */
const attemptErrorKind = 'att_err';

/**
 * The classes of a failed API attempt: the `outcome` label of `promptq_requests_total`, so the
 * dashboard's attempt error rate is the one Prometheus computes. Shown as 429, 529, 5xx, timeout,
 * network, 4xx.
 */
export const attemptErrorClasses = {
  rate_limited: '429',
  overloaded: '529',
  server_error: '5xx',
  timeout: 'timeout',
  network_error: 'network',
  client_error: '4xx',
} as const;

/** One model's counters in a minute. */
export type ModelMinute = Record<ModelCounter, number> & {
  /** Completed calls per latency bucket ({@link latencyBucketsMs}, then +Inf). */
  latency: number[];
  /** Completed calls per `output/max_tokens` bucket ({@link usageBuckets}, then above). */
  usage: number[];
};

/** Everything one minute's hash says. */
export interface MinuteRollup {
  models: Record<string, ModelMinute>;
  tenants: Record<string, Record<TenantCounter, number>>;
  /** Failed jobs per error type. */
  errors: Record<string, number>;
  /** Failed API attempts per class ({@link attemptErrorClasses}). */
  attemptErrors: Record<string, number>;
  /** Per serving account, `provider/account`. */
  accounts: Record<string, Record<AccountCounter, number>>;
}

/** What one finished job adds to its minute. */
export interface MinuteIncrement {
  model: string;
  tenant: string;
  counters: Partial<Record<ModelCounter, number>>;
  tenantCounters: Partial<Record<TenantCounter, number>>;
  latencyBucket?: number;
  usageBucket?: number;
  error?: string;
  /** A failed API attempt's class ({@link attemptErrorClasses}). */
  attemptError?: string;
  /** The account that served it, `provider/account`, and what it adds to that account. */
  account?: string;
  accountCounters?: Partial<Record<AccountCounter, number>>;
}

/** One slow call, as kept in an hour's slowest set (JSON member, score = total_ms). */
export interface SlowCall {
  id: string;
  model: string;
  tenant: string;
  status: 'completed' | 'failed';
  total_ms: number;
  latency_ms: number | null;
  ttft_ms: number | null;
  queue_wait_ms: number | null;
  output_tokens: number;
  max_tokens: number;
  attempts: number;
  finished_at: string;
}

/** A label safe inside a `kind|label` field name. */
export const safe = (s: string) => s.replaceAll('|', '_');

/** The bucket of `v` among upper `bounds` (`bounds.length` = above the last). */
export function bucketIndex(bounds: readonly number[], v: number): number {
  const i = bounds.findIndex((b) => v <= b);
  return i === -1 ? bounds.length : i;
}

const field = (kind: string, label: string) => `${kind}|${safe(label)}`;

/** The HINCRBY fields of one increment (zero increments left out). */
export function encodeMinute(inc: MinuteIncrement): Array<[field: string, by: number]> {
  const out: Array<[string, number]> = [];
  const push = (f: string, by: number | undefined) => {
    const n = Math.round(by ?? 0);
    if (n !== 0) out.push([f, n]);
  };
  for (const [k, kind] of Object.entries(modelCounters))
    push(field(kind, inc.model), inc.counters[k as ModelCounter]);
  if (inc.latencyBucket !== undefined) push(field(`${latencyKind}${inc.latencyBucket}`, inc.model), 1);
  if (inc.usageBucket !== undefined) push(field(`${usageKind}${inc.usageBucket}`, inc.model), 1);
  if (inc.error !== undefined) push(field(errorKind, inc.error), 1);
  if (inc.attemptError !== undefined) push(field(attemptErrorKind, inc.attemptError), 1);
  for (const [k, kind] of Object.entries(tenantCounters))
    push(field(kind, inc.tenant), inc.tenantCounters[k as TenantCounter]);
  if (inc.account !== undefined)
    for (const [k, kind] of Object.entries(accountCounters))
      push(field(kind, inc.account), inc.accountCounters?.[k as AccountCounter]);
  return out;
}

/** The HINCRBY fields of a day for one finished job. */
export function encodeDay(tenant: string, costMicro: number): Array<[field: string, by: number]> {
  const out: Array<[string, number]> = [];
  if (costMicro !== 0) out.push([field(dayCounters.costMicro, tenant), costMicro]);
  out.push([field(dayCounters.jobs, tenant), 1]);
  return out;
}

const byKind = <T extends string>(m: Record<T, string>) =>
  new Map(Object.entries(m).map(([k, kind]) => [kind as string, k as T]));
const modelByKind = byKind<ModelCounter>(modelCounters);
const tenantByKind = byKind<TenantCounter>(tenantCounters);
const dayByKind = byKind<DayCounter>(dayCounters);
const accountByKind = byKind<AccountCounter>(accountCounters);

const zeros = <T extends string>(m: Record<T, string>) =>
  Object.fromEntries(Object.keys(m).map((k) => [k, 0])) as Record<T, number>;

/** A model's counters, all zero. */
export function emptyModel(): ModelMinute {
  return {
    ...zeros(modelCounters),
    latency: new Array(latencyBucketsMs.length + 1).fill(0),
    usage: new Array(usageBuckets.length + 1).fill(0),
  };
}

function split(f: string): [kind: string, label: string] {
  const bar = f.indexOf('|');
  return [f.slice(0, bar), f.slice(bar + 1)];
}

/** A minute's hash → its typed content (unknown fields are ignored). */
export function decodeMinute(hash: Record<string, string>): MinuteRollup {
  const r: MinuteRollup = {
    models: dict(),
    tenants: dict(),
    errors: dict(),
    attemptErrors: dict(),
    accounts: dict(),
  };
  const model = (m: string) => entry(r.models, m, emptyModel);
  for (const [f, raw] of Object.entries(hash)) {
    const [kind, label] = split(f);
    const v = Number(raw);
    const mc = modelByKind.get(kind);
    const tc = tenantByKind.get(kind);
    const ac = accountByKind.get(kind);
    if (mc !== undefined) model(label)[mc] += v;
    else if (ac !== undefined) entry(r.accounts, label, () => zeros(accountCounters))[ac] += v;
    else if (tc !== undefined) entry(r.tenants, label, () => zeros(tenantCounters))[tc] += v;
    else if (kind === errorKind) r.errors[label] = (own(r.errors, label) ?? 0) + v;
    else if (kind === attemptErrorKind) r.attemptErrors[label] = (own(r.attemptErrors, label) ?? 0) + v;
    else if (kind.startsWith(latencyKind))
      addAt(model(label).latency, Number(kind.slice(latencyKind.length)), v);
    else if (kind.startsWith(usageKind)) addAt(model(label).usage, Number(kind.slice(usageKind.length)), v);
  }
  return r;
}

/** A day's hash → per-tenant counters. */
export function decodeDay(hash: Record<string, string>): Record<string, Record<DayCounter, number>> {
  const out = dict<Record<DayCounter, number>>();
  for (const [f, raw] of Object.entries(hash)) {
    const [kind, label] = split(f);
    const c = dayByKind.get(kind);
    if (c !== undefined) entry(out, label, () => zeros(dayCounters))[c] += Number(raw);
  }
  return out;
}

function addAt(xs: number[], i: number, v: number): void {
  if (Number.isInteger(i) && i >= 0 && i < xs.length) xs[i] = (xs[i] ?? 0) + v;
}
