/**
 * What an attempt's answer means for the job: one typed outcome, and the record updated to match.
 * Pure decisions (no Redis, no BullMQ): the worker's finish path acts on the outcome, and the unit
 * tests check the policy here directly.
 */

import { formatUsd } from '../core/format.js';
import { type JobRecord, recordAnswer, savingsOf } from '../core/record.js';
import type { AttemptOutcome, BudgetOutcome, BudgetRefusal } from '../events/outcome.js';
import type { AttemptResult, Decision, Pricing } from '../providers/provider.js';
import { periodEnd } from '../store/budget-store.js';
import { type BackoffPolicy, backoffMs } from './backoff.js';

export type {
  AttemptOutcome,
  BudgetOutcome,
  BudgetRefusal,
  FailedOutcome,
  FinalOutcome,
  JobOutcome,
  OutcomeKind,
} from '../events/outcome.js';

/** How long an over-budget job waits before it asks again. */
export interface BudgetWaitPolicy {
  /** When calls in flight hold the room (their settling may free it). */
  heldMs: number;
  /** When the spend itself fills the budget: at most this, or until the period ends. */
  spentMs: number;
}

export interface RetryPolicy {
  /** API attempts per job (429s not counted). */
  maxAttempts: number;
  /** 429s a job may meet before it fails. */
  maxRateLimited: number;
  backoff: BackoffPolicy;
  /** Jitter source. */
  random: () => number;
}

/**
 * A failed attempt: update the record (status, error, the 429 count, retries by reason) and decide.
 * 429s do not spend the attempt budget; they have their own bound.
 */
export function judgeError(record: JobRecord, decision: Decision, policy: RetryPolicy): AttemptOutcome {
  record.status_code = decision.statusCode;
  record.error_type = decision.errorType;
  record.request_id = decision.requestId;
  if (decision.outcome === 'rate_limited') record.rate_limited += 1;
  if (decision.spendLimit) return { kind: 'spend_limit', decision };
  if (decision.outcome === 'rate_limited') {
    if (record.rate_limited > policy.maxRateLimited) {
      const message = `rate limited ${record.rate_limited} times (the bound is ${policy.maxRateLimited}): ${decision.message}`;
      return { kind: 'failed', decision, message };
    }
    countRetry(record, decision.reason);
    return { kind: 'rate_limited', decision };
  }
  if (decision.retry && record.attempts - record.rate_limited < policy.maxAttempts) {
    const retriesSoFar = Object.values(record.retries).reduce((a, b) => a + b, 0);
    const delayMs = backoffMs(decision, retriesSoFar + 1, policy.random, policy.backoff);
    countRetry(record, decision.reason);
    return { kind: 'retry', decision, delayMs };
  }
  const what = `${decision.errorType}${decision.statusCode ? ` (${decision.statusCode})` : ''}: ${decision.message}`;
  const message = decision.retry ? `gave up after ${record.attempts} attempts: ${what}` : what;
  return { kind: 'failed', decision, message };
}

/**
 * Model fallback (opt-in, `fallback_models`): after `after` overloaded answers in a row from the
 * model tried, or a `404 not_found_error` (a retired model), the next attempt goes to the next model
 * of `[model, ...fallback_models]`. Updates `served_model`/`fallback_reason`; returns the outcome to
 * act on (a 404 that found a next model becomes a retry without delay).
 */
export function judgeFallback(
  record: JobRecord,
  outcome: AttemptOutcome,
  models: readonly string[],
  after: number,
  policy: RetryPolicy,
): AttemptOutcome {
  if (outcome.kind !== 'retry' && outcome.kind !== 'failed') {
    record.overloaded_in_a_row = 0;
    return outcome;
  }
  const decision = outcome.decision;
  record.overloaded_in_a_row = decision.outcome === 'overloaded' ? record.overloaded_in_a_row + 1 : 0;
  const current = record.served_model ?? models[0];
  const next = models[models.indexOf(current ?? '') + 1];
  if (next === undefined || models.length < 2) return outcome;
  const retired = decision.statusCode === 404 && decision.errorType === 'not_found_error';
  const overloaded = decision.outcome === 'overloaded' && record.overloaded_in_a_row >= after;
  if (!retired && !overloaded) return outcome;
  if (record.attempts - record.rate_limited >= policy.maxAttempts) return outcome;
  record.served_model = next;
  record.fallback_reason = retired ? 'not_found' : 'overloaded';
  record.overloaded_in_a_row = 0;
  if (outcome.kind === 'retry') return outcome;
  countRetry(record, decision.reason);
  return { kind: 'retry', decision, delayMs: 0 };
}

/** A successful attempt: usage, timings, status and cost into the record. */
export function judgeSuccess(
  record: JobRecord,
  result: AttemptResult,
  model: string,
  prices: Pick<Pricing, 'priceCall'>,
): AttemptOutcome {
  const usage = result.message.usage;
  recordAnswer(record, result.message, model);
  record.route = 'live';
  record.latency_ms = result.latencyMs;
  record.ttft_ms = result.ttftMs;
  record.connect_ms = result.network ? Math.round(result.network.connect_ms ?? 0) : null;
  record.ttfb_ms = result.network?.ttfb_ms == null ? null : Math.round(result.network.ttfb_ms);
  record.status_code = result.statusCode;
  record.error_type = null;
  record.request_id = result.requestId;
  const cost = prices.priceCall(usage, model);
  if (cost) {
    const { total, ...parts } = cost;
    record.cost_usd = total;
    record.cost = parts;
    record.savings = savingsOf((u, m, o) => prices.priceCall(u, m, o), usage, model, total);
  } else {
    record.cost_usd = null;
    record.cost = null;
  }
  return { kind: 'completed', result, priced: cost !== null };
}

/**
 * A call its tenant's budget refused: wait (put back, no attempt spent) or fail for good with
 * `budget_exceeded`, as the tenant says — but a call that fits once the calls in flight settle
 * waits for them, whatever the tenant says.
 */
export function judgeBudget(
  record: JobRecord,
  refusal: BudgetRefusal,
  policy: BudgetWaitPolicy,
  now: number,
  random: () => number,
): BudgetOutcome {
  const usd = formatUsd;
  if (refusal.unpriced) {
    // No hold can be sized, so waiting would not help: refused for good, whatever on_exceed says.
    record.error_type = 'budget_unpriced';
    record.status_code = null;
    const message =
      `budget cannot hold this call: ${refusal.what ?? 'it has no known price'}, and tenant ` +
      `"${refusal.tenant}" has a ${refusal.period === 'day' ? 'daily' : 'monthly'} budget of ${usd(refusal.budgetUsd)}; ` +
      'price it in PROMPTQ_PRICING_FILE, bound the tool with max_uses, or send it on a priced model';
    return { kind: 'budget_exceeded', refusal, message };
  }
  const what =
    `tenant "${refusal.tenant}" is over its ${refusal.period === 'day' ? 'daily' : 'monthly'} budget of ` +
    `${usd(refusal.budgetUsd)}: spent ${usd(refusal.spentUsd)}, held by calls in flight ${usd(refusal.heldUsd)}, ` +
    `this call up to ${usd(refusal.costUsd)}`;
  // Only calls in flight stand in the way: they settle soon, usually below their worst case.
  const fitsWhenSettled = refusal.spentUsd + refusal.costUsd <= refusal.budgetUsd;
  // `fail` fails only a call the budget cannot fit once everything in flight has settled; until
  // then it waits for them like `wait` does, so a budget is spent to within one call of its limit.
  if (refusal.onExceed === 'fail' && !fitsWhenSettled) {
    record.error_type = 'budget_exceeded';
    record.status_code = null;
    return { kind: 'budget_exceeded', refusal, message: `budget exceeded: ${what}` };
  }
  const base = fitsWhenSettled
    ? policy.heldMs
    : Math.min(policy.spentMs, periodEnd(refusal.period, now) - now + 1000);
  return { kind: 'over_budget', refusal, delayMs: Math.round(base * (0.8 + 0.4 * random())) };
}

function countRetry(record: JobRecord, reason: string): void {
  record.retries[reason] = (record.retries[reason] ?? 0) + 1;
}
