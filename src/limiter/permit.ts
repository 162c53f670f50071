/**
 * A permit's second half: what happens when the API answers. The settle gives back what the call
 * did not use, feeds the input-token ratio, pauses the group on a 429/529 and learns the answer's
 * rate-limit headers (the shared limits) — all in one Lua step of {@link SharedLimiterState.settle}.
 */
import { type Resource, resources } from '../core/rate-limits.js';
import type { RateLimitSignals } from '../providers/provider.js';
import type { Costs, HeaderObservation, SharedLimiterState } from './shared-state.js';
import type { AccountQuotaPort, CallPlan, CallResult, LimiterOptions, Permit } from './types.js';

/** What a permit needs of its limiter. */
export interface PermitContext {
  state: SharedLimiterState;
  options: LimiterOptions;
  /** Configured ceilings per resource (0: none). */
  ceilings: Record<Resource, number>;
  /** Drop the process's last read of the group's state (it paused: the next call reads afresh). */
  forget?: (key: string) => void;
}

/** One admitted call of `group`. */
export interface PermitCall {
  group: string;
  /** The group's Redis key. */
  key: string;
  plan: CallPlan;
  /** What admission charged. */
  costs: Costs;
  /** The discovery request (the group's limits were unknown). */
  discovery: boolean;
  /** The overload probe: the one request that tries the API after a 529 pause. */
  probe?: boolean | undefined;
  /** The group's levels right after this call was admitted (unknown for the discovery request), and when. */
  admitted?: { levels: Partial<Costs> | undefined; at: number } | undefined;
  /** Cache reads count toward ITPM on this model. */
  cacheReadsCount: boolean;
  /** Called when the API answered with cache writes or reads (the prefix is cached now). */
  onCached?: (() => void) | undefined;
  /** The tenant's share buckets of the group, charged with `costs`: refunded as the group is. */
  shareKey?: string | undefined;
  /** The tenant's per-minute quota, charged the plan's input estimate + `max_tokens`. */
  perMinute?: AccountQuotaPort | undefined;
}

/** Token remainders are rounded down to thousands: the true value may be up to 999 more. */
function remainingUpper(r: number | undefined, tokens: boolean): number | undefined {
  if (r === undefined) return undefined;
  return tokens && r % 1000 === 0 ? r + 999 : r;
}

/** What an answer's rate-limit signals announce (remainders at their upper end); none: undefined. */
function observation(
  ctx: PermitContext,
  group: string,
  snap: RateLimitSignals,
  costs: Costs,
  at: number | undefined,
  admitted?: PermitCall['admitted'],
): HeaderObservation | undefined {
  if (Object.keys(snap).length === 0) return undefined;
  void ctx.options.events?.emit('limitSignals', { group, signals: snap });
  // The API answered after charging this call's max_tokens: a remainder above zero (not a debt
  // shown as zero) plus that charge is what its output bucket held.
  const outLeft = snap.output_tokens?.remaining;
  const held =
    outLeft !== undefined && outLeft > 0 ? { output_tokens: outLeft + costs.output_tokens } : undefined;
  return {
    held,
    at,
    charge: costs,
    admitted: admitted?.levels,
    admittedAt: admitted?.at,
    limits: {
      requests: snap.requests?.limit,
      input_tokens: snap.input_tokens?.limit,
      output_tokens: snap.output_tokens?.limit,
    },
    remaining: {
      requests: remainingUpper(snap.requests?.remaining, false),
      input_tokens: remainingUpper(snap.input_tokens?.remaining, true),
      output_tokens: remainingUpper(snap.output_tokens?.remaining, true),
    },
    ceilings: ctx.ceilings,
  };
}

/** Report the limits that changed (a discovery, or the API announcing other ones). */
function reportLimits(
  ctx: PermitContext,
  group: string,
  key: string,
  observation: HeaderObservation,
  before: Partial<Record<Resource, number>>,
): void {
  const now: Partial<Record<Resource, number>> = {};
  let changed = false;
  for (const r of resources) {
    const l = observation.limits[r];
    if (l === undefined) continue;
    const effective = ctx.ceilings[r] > 0 ? Math.min(l, ctx.ceilings[r]) : l;
    now[r] = effective;
    if (before[r] !== effective) changed = true;
  }
  if (changed) {
    ctx.forget?.(key);
    void ctx.options.events?.emit('groupLimits', {
      group,
      limits: now,
      before,
    });
  }
}

/** Store the limits and remainders an answer's signals announce (a script of its own); report what changed. */
async function observeLimitSignals(
  ctx: PermitContext,
  group: string,
  key: string,
  signals: RateLimitSignals,
  costs: Costs,
  at: number,
  admitted: PermitCall['admitted'],
): Promise<void> {
  const seen = observation(ctx, group, signals, costs, at, admitted);
  if (!seen) return;
  const { limits, remaining, ceilings, held } = seen;
  const before = await ctx.state.observe(
    key,
    limits,
    remaining,
    ceilings,
    Date.now(),
    held,
    at,
    costs,
    admitted,
  );
  reportLimits(ctx, group, key, seen, before);
}

type SettleOutcome = 'success' | 'rate_limited' | 'overloaded' | 'other';

function settleOutcome(result: CallResult): SettleOutcome {
  const o = result.outcome;
  return o === 'success' || o === 'rate_limited' || o === 'overloaded' ? o : 'other';
}

/**
 * What an answered call gives back: to the group (and the tenant's share), the admission's charge
 * less what the API counted — on success the unused estimate and `max_tokens` less the output; on
 * a 429 all of it (the API counted none: a refused call charges nothing); on any other failure all
 * of `max_tokens` (no output). To the tenant's per-minute quota, the whole prompt's estimate less
 * its real tokens. And the input-token ratio's sample.
 */
function usageOf(result: CallResult, plan: CallPlan, costs: Costs, cacheReadsCount: boolean) {
  const ok = result.outcome === 'success';
  const written = result.cacheCreationInputTokens ?? 0;
  const read = result.cacheReadInputTokens ?? 0;
  const inputTokens = ok ? result.inputTokens : undefined;
  const billedIn =
    inputTokens === undefined ? undefined : inputTokens + written + (cacheReadsCount ? read : 0);
  // Refused (a 429), or never counted (a 404 for a model the API has not): the API took nothing.
  const refused = result.outcome === 'rate_limited' || result.notCharged === true;
  const refundIn = refused ? costs.input_tokens : billedIn === undefined ? 0 : costs.input_tokens - billedIn;
  const refundOut =
    ok && result.outputTokens !== undefined ? costs.output_tokens - result.outputTokens : costs.output_tokens;
  // The estimate covers the whole prompt: compare it with all of the prompt's tokens.
  const whole = inputTokens === undefined ? undefined : inputTokens + written + read;
  return {
    refundRequests: result.notCharged === true ? costs.requests : 0,
    refundIn,
    refundOut,
    quotaIn: whole === undefined ? 0 : plan.inputTokens - whole,
    sample: whole !== undefined && plan.inputTokens > 0 ? whole / plan.inputTokens : null,
    cached: ok && written + read > 0,
  };
}

async function reportPause(
  ctx: PermitContext,
  group: string,
  key: string,
  reason: 'rate_limited' | 'overloaded',
  pausedUntil: number,
): Promise<void> {
  ctx.forget?.(key);
  const pauseMs = pausedUntil - Date.now();
  if (pauseMs > 0) await ctx.options.events?.emit('groupPaused', { group, reason, pauseMs });
}

/**
 * Settle an answered call in one script: what it gives back, the answer's headers (unless they were
 * learned on their own already: `headersSeen`), the pace; then report what changed.
 */
async function settleCall(
  ctx: PermitContext,
  call: PermitCall,
  result: CallResult,
  headersSeen: Promise<void> | undefined,
  arrived: RateLimitSignals | undefined,
  arrivedAt: number | undefined,
): Promise<void> {
  const { group, key, costs } = call;
  const outcome = settleOutcome(result);
  const pausing = outcome === 'rate_limited' || outcome === 'overloaded';
  // Headers learned on their own already: as before, first on success (on a 429/529 the pause goes
  // first, so that the discovery request's end cannot let another request slip in before it).
  if (headersSeen && !pausing) await headersSeen;
  const signals = result.signals ?? arrived;
  const merged =
    signals && !headersSeen ? observation(ctx, group, signals, costs, arrivedAt, call.admitted) : undefined;
  const usage = usageOf(result, call.plan, costs, call.cacheReadsCount);
  if (usage.cached) call.onCached?.();
  const [{ pausedUntil, factor, limitsBefore }] = await Promise.all([
    ctx.state.settle(key, {
      outcome,
      refundRequests: usage.refundRequests,
      refundInputTokens: usage.refundIn,
      refundOutputTokens: usage.refundOut,
      retryAfterMs: result.retryAfterMs,
      inRatioSample: usage.sample,
      // Did the API's answer carry rate-limit headers? (null: there was no answer.)
      headersSeen: result.signals ? Object.keys(result.signals).length > 0 : null,
      discovery: call.discovery,
      probe: call.probe === true,
      headers: merged,
    }),
    call.shareKey === undefined
      ? undefined
      : ctx.state.refundShare(call.shareKey, usage.refundIn, usage.refundOut),
    outcome === 'rate_limited' ? undefined : call.perMinute?.giveBack(0, usage.quotaIn + usage.refundOut),
  ]);
  if (merged) reportLimits(ctx, group, key, merged, limitsBefore ?? {});
  await ctx.options.events?.emit('groupPace', { group, factor });
  if (pausing) await reportPause(ctx, group, key, outcome, pausedUntil);
}

/**
 * The permit of an admitted call. Its answer's headers are learned in the settle's script (one
 * round trip per call), except the discovery request's, learned as they arrive (they end the
 * discovery for every waiting call), and those of a call still running `headersEarlyMs` after them.
 */
export function createPermit(ctx: PermitContext, call: PermitCall): Permit {
  const { group, key, costs, discovery } = call;
  let headersSeen: Promise<void> | undefined;
  let arrived: RateLimitSignals | undefined;
  /** When the answer began (its signals arrived): their remainders are as of then. */
  let arrivedAt: number | undefined;
  let early: NodeJS.Timeout | undefined;
  let settled = false;
  const observe = (signals: RateLimitSignals) => {
    clearTimeout(early);
    const at = arrivedAt ?? Date.now();
    headersSeen ??= observeLimitSignals(ctx, group, key, signals, costs, at, call.admitted).catch(() => {});
    return headersSeen;
  };
  return {
    observeSignals: (signals) => {
      if (settled || headersSeen || arrived) return;
      arrivedAt = Date.now();
      if (discovery) {
        // Without headers the discovery's answer still ends the discovery as it begins: the
        // group's request limit is learned from here.
        if (Object.keys(signals).length === 0) headersSeen = ctx.state.answerBegan(key).catch(() => {});
        else void observe(signals);
        return;
      }
      // The overload probe's answer began: the API serves again, the group's other calls go.
      if (call.probe) void ctx.state.answerBegan(key).catch(() => {});
      arrived = signals;
      early = setTimeout(() => void observe(signals), ctx.state.tuning.headersEarlyMs);
      early.unref?.();
    },
    settle: async (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(early);
      await settleCall(ctx, call, result, headersSeen, arrived, arrivedAt);
    },
  };
}
